package chat

import (
	"bytes"
	"context"
	"errors"
	"math"
	"time"
)

// Attachment lifecycle: erasure, retention and uploads never sent.

// blobGrace is how old a blob must be before the sweep may take it for an
// orphan: an upload writes its blob just before its metadata, so a younger
// blob without metadata may be one still being uploaded (on any node).
const blobGrace = 5 * time.Minute

func (s *Server) attachmentSweepLoop() {
	defer s.wg.Done()
	tick := time.NewTicker(s.attach.cfg.SweepInterval)
	defer tick.Stop()
	for {
		if _, err := s.SweepAttachments(s.ctx); err != nil {
			s.logErr("attachment sweep", err)
		}
		select {
		case <-s.ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// SweepAttachments deletes uploads that were never sent within
// Config.Attachments.UnsentTTL, and then every blob older than a few
// minutes that no attachment's metadata names: what erasure, retention
// (whose metadata goes with the conversations) or a crash between a blob's
// write and its metadata's left behind. It returns how many blobs it
// deleted. The Server runs it every Attachments.SweepInterval and after
// each retention purge; it is safe to run on every node at once.
func (s *Server) SweepAttachments(ctx context.Context) (int, error) {
	at := s.attach
	if at == nil {
		return 0, nil
	}
	deleted := 0
	for {
		unsent, err := at.store.UnsentAttachments(ctx, "", s.now().Add(-at.cfg.UnsentTTL), 100)
		if err != nil {
			return deleted, err
		}
		n, err := s.deleteAttachments(ctx, unsent)
		deleted += n
		if err != nil || len(unsent) < 100 {
			if err != nil {
				return deleted, err
			}
			break
		}
	}
	cutoff := s.now().Add(-blobGrace)
	err := at.blobs.List(ctx, func(key string, written time.Time) error {
		if !written.Before(cutoff) {
			return nil
		}
		_, err := at.store.Attachment(ctx, key)
		if !errors.Is(err, ErrNotFound) {
			return err
		}
		if err := at.blobs.Delete(ctx, key); err != nil {
			return err
		}
		deleted++
		return nil
	})
	if deleted > 0 {
		s.add("attachments_swept_total", float64(deleted))
	}
	return deleted, err
}

// deleteAttachments deletes the metadata, then the blobs, of as; a blob
// left by a failure here is an orphan the next sweep takes.
func (s *Server) deleteAttachments(ctx context.Context, as []*Attachment) (int, error) {
	if len(as) == 0 {
		return 0, nil
	}
	ids := make([]string, len(as))
	for i, a := range as {
		ids[i] = a.ID
	}
	if err := s.attach.store.DeleteAttachments(ctx, ids); err != nil {
		return 0, err
	}
	for i, id := range ids {
		if err := s.attach.blobs.Delete(ctx, id); err != nil {
			return i, err
		}
	}
	return len(ids), nil
}

// visitorAttachments lists every attachment DeleteVisitor must take with
// visitor id: those of their conversations (whoever sent them) and their
// uploads not yet sent.
func (s *Server) visitorAttachments(ctx context.Context, id string) ([]*Attachment, error) {
	if s.attach == nil {
		return nil, nil
	}
	var out []*Attachment
	f := ConversationFilter{VisitorID: id, Limit: 100}
	for {
		cs, err := s.store.Conversations(ctx, f)
		if err != nil {
			return nil, err
		}
		for _, c := range cs {
			as, err := s.attach.store.MessageAttachments(ctx, c.ID, 0, math.MaxInt64)
			if err != nil {
				return nil, err
			}
			out = append(out, as...)
		}
		if len(cs) < f.Limit {
			break
		}
		f.Before = cs[len(cs)-1].CreatedAt
	}
	for {
		unsent, err := s.attach.store.UnsentAttachments(ctx, id, time.Unix(math.MaxInt32, 0), 1000)
		if err != nil {
			return nil, err
		}
		out = append(out, unsent...)
		if len(unsent) < 1000 {
			return out, nil
		}
		// More than a page of unsent uploads: delete this page now, so the
		// next one is new.
		if _, err := s.deleteAttachments(ctx, unsent); err != nil {
			return nil, err
		}
	}
}

// mailedFiles takes the files of an inbound mail from owner through the
// upload path and returns them as attachments to send, and the names of
// those refused (or all names, with attachments off).
func (s *Server) mailedFiles(ctx context.Context, owner string, files []InboundFile) ([]Attachment, []string) {
	var ok []Attachment
	var refused []string
	var total int64
	for _, f := range files {
		name := cleanFileName(f.Name)
		if s.attach == nil || len(ok) == MaxAttachmentsPerMessage || total+int64(len(f.Data)) > s.attach.cfg.MaxMessageSize {
			refused = append(refused, name)
			continue
		}
		a, err := s.upload(ctx, owner, name, bytes.NewReader(f.Data))
		if err != nil {
			s.log.Info("mailed attachment refused", "name", name, "err", err)
			refused = append(refused, name)
			continue
		}
		total += a.Size
		ok = append(ok, *a)
	}
	return ok, refused
}

// discardUnsent deletes the uploads among as that did not end up in sent
// (nil if nothing was sent).
func (s *Server) discardUnsent(as []Attachment, sent *Message) {
	in := map[string]bool{}
	if sent != nil {
		for _, a := range sent.Attachments {
			in[a.ID] = true
		}
	}
	var drop []*Attachment
	for i := range as {
		if !in[as[i].ID] {
			drop = append(drop, &as[i])
		}
	}
	if len(drop) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(s.ctx, 30*time.Second)
	defer cancel()
	if _, err := s.deleteAttachments(ctx, drop); err != nil {
		s.logErr("discard uploads", err) // the sweep takes them later
	}
}

// linkAttachments gives notification n a signed link to each attachment
// of its messages.
func (s *Server) linkAttachments(n *Notification) {
	if s.attach == nil {
		return
	}
	expires := s.now().Add(s.attach.cfg.LinkTTL)
	for _, m := range append(append([]*Message{}, n.Messages...), n.Question...) {
		if m == nil {
			continue
		}
		for _, a := range m.Attachments {
			if n.AttachmentLinks == nil {
				n.AttachmentLinks = map[string]string{}
			}
			n.AttachmentLinks[a.ID] = s.AttachmentLink(a.ID, expires)
		}
	}
}
