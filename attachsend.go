package chat

import (
	"context"
	"errors"
	"fmt"
)

// Sending attachments: checking the ids a message names, binding them to
// the stored message, and reading messages with their attachments.

// attachmentsOf returns the metadata of the attachments ids for a message
// owner is about to send, checking them first so that a message is never
// stored with attachments it cannot carry: each must be owner's and unsent
// (or sent already with this very message, for a retry), and together
// within MaxAttachmentsPerMessage and MaxMessageSize.
func (s *Server) attachmentsOf(ctx context.Context, owner string, ids []string) ([]Attachment, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	if s.attach == nil {
		return nil, userErr(ErrInvalid, "attachments are not enabled")
	}
	if err := CheckBind(1, ids); err != nil {
		return nil, userErr(ErrInvalid, "%s", publicText(err))
	}
	out := make([]Attachment, 0, len(ids))
	var total int64
	for _, id := range ids {
		a, err := s.attach.store.Attachment(ctx, id)
		if errors.Is(err, ErrNotFound) || (err == nil && a.OwnerID != owner) {
			return nil, userErr(ErrNotFound, "attachment %q not found (uploads expire after %v)", id, s.attach.cfg.UnsentTTL)
		}
		if err != nil {
			return nil, err
		}
		total += a.Size
		out = append(out, *a)
	}
	if total > s.attach.cfg.MaxMessageSize {
		return nil, userErr(ErrInvalid, "attachments of one message exceed %d MiB", s.attach.cfg.MaxMessageSize>>20)
	}
	return out, nil
}

// publicText is err's text without the package prefix, for a client.
func publicText(err error) string {
	msg := err.Error()
	if i := len("chat: invalid input: "); len(msg) > i && msg[:i] == "chat: invalid input: " {
		return msg[i:]
	}
	return msg
}

// bindSent binds the attachments m was sent with (m.Attachments, as given
// by the sender) to the stored message res.Message and sets their metadata
// on it. Called between the store's append and the publish, so every
// reader sees the message with its attachments. A retried send
// (res.Duplicate) binds only if the original holds none yet (its first
// try failed between the append and the bind); a mail delivered twice, with
// fresh uploads the second time, never adds them to the original.
func (s *Server) bindSent(ctx context.Context, m *Message, res *Appended) error {
	if len(m.Attachments) == 0 || res.Message == nil {
		return nil
	}
	stored := res.Message
	if res.Duplicate {
		if err := s.withAttachments(ctx, []*Message{stored}); err != nil || len(stored.Attachments) > 0 {
			return err
		}
	}
	ids := make([]string, len(m.Attachments))
	for i, a := range m.Attachments {
		ids[i] = a.ID
	}
	if err := s.attach.store.BindAttachments(ctx, stored.ConversationID, stored.Seq, m.AuthorID, ids); err != nil {
		return fmt.Errorf("chat: bind attachments: %w", err)
	}
	return s.withAttachments(ctx, []*Message{stored})
}

// appendWith stores m with append and binds the attachments m carries
// (m.Attachments, as the sender gave them) to the stored message. The
// store never sees them: it keeps messages, the AttachmentStore keeps the
// binding.
func (s *Server) appendWith(ctx context.Context, m *Message, append func(context.Context, *Message) (Appended, error)) (Appended, error) {
	atts := m.Attachments
	m.Attachments = nil
	res, err := append(ctx, m)
	m.Attachments = atts
	if err == nil {
		err = s.bindSent(ctx, m, &res)
	}
	return res, err
}

// withAttachments sets the attachments of messages ms (of one
// conversation, ascending) from the store, in one query.
func (s *Server) withAttachments(ctx context.Context, ms []*Message) error {
	if s.attach == nil || len(ms) == 0 {
		return nil
	}
	as, err := s.attach.store.MessageAttachments(ctx, ms[0].ConversationID, ms[0].Seq, ms[len(ms)-1].Seq)
	if err != nil {
		return err
	}
	bySeq := make(map[int64][]Attachment)
	for _, a := range as {
		bySeq[a.Seq] = append(bySeq[a.Seq], *a)
	}
	for _, m := range ms {
		if m.ConversationID == ms[0].ConversationID {
			m.Attachments = bySeq[m.Seq]
		}
	}
	return nil
}

// messages is Store.Messages with each message's attachments.
func (s *Server) messages(ctx context.Context, q MessageQuery) ([]*Message, error) {
	ms, err := s.store.Messages(ctx, q)
	if err != nil {
		return nil, err
	}
	return ms, s.withAttachments(ctx, ms)
}

// authorID is the id the session writes messages as.
func (ss *session) authorID() string {
	if ss.visitor != nil {
		return ss.visitor.ID
	}
	return ss.op.ID
}
