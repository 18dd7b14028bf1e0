package memory

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/shopchat/chat"
)

var _ chat.AttachmentStore = (*Store)(nil)

// PutAttachment implements chat.AttachmentStore.
func (s *Store) PutAttachment(_ context.Context, a *chat.Attachment) error {
	if a.ID == "" || a.OwnerID == "" {
		return fmt.Errorf("memory: attachment needs an id and an owner: %w", chat.ErrInvalid)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.attachments[a.ID]; ok {
		return conflict("attachment", a.ID, "exists")
	}
	if s.attachments == nil {
		s.attachments = make(map[string]*chat.Attachment)
	}
	c := *a
	c.ConversationID, c.Seq = "", 0
	s.attachments[a.ID] = &c
	return nil
}

// Attachment implements chat.AttachmentStore.
func (s *Store) Attachment(_ context.Context, id string) (*chat.Attachment, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.attachments[id]
	if !ok {
		return nil, notFound("attachment", id)
	}
	c := *a
	return &c, nil
}

// BindAttachments implements chat.AttachmentStore.
func (s *Store) BindAttachments(_ context.Context, convID string, seq int64, ownerID string, ids []string) error {
	if err := chat.CheckBind(seq, ids); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	conv, ok := s.convs[convID]
	if !ok {
		return notFound("conversation", convID)
	}
	var found []*chat.Attachment
	for _, id := range ids {
		if a, ok := s.attachments[id]; ok {
			found = append(found, a)
		}
	}
	if err := chat.CheckBindable(found, convID, seq, ownerID, ids); err != nil {
		return err
	}
	for _, a := range found {
		if a.ConversationID == "" {
			a.ConversationID, a.Seq = convID, seq
			conv.attached = append(conv.attached, a.ID)
		}
	}
	return nil
}

// MessageAttachments implements chat.AttachmentStore.
func (s *Store) MessageAttachments(_ context.Context, convID string, fromSeq, toSeq int64) ([]*chat.Attachment, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	conv, ok := s.convs[convID]
	if !ok {
		return nil, nil
	}
	var out []*chat.Attachment
	for _, id := range conv.attached { // in bind order
		if a := s.attachments[id]; a.Seq >= fromSeq && a.Seq <= toSeq {
			c := *a
			out = append(out, &c)
		}
	}
	slices.SortStableFunc(out, func(a, b *chat.Attachment) int { return cmp.Compare(a.Seq, b.Seq) })
	return out, nil
}

// UnsentAttachments implements chat.AttachmentStore.
func (s *Store) UnsentAttachments(_ context.Context, ownerID string, before time.Time, limit int) ([]*chat.Attachment, error) {
	if limit <= 0 {
		limit = 100
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*chat.Attachment
	for _, a := range s.attachments {
		if a.ConversationID == "" && a.CreatedAt.Before(before) && (ownerID == "" || a.OwnerID == ownerID) {
			c := *a
			out = append(out, &c)
		}
	}
	slices.SortFunc(out, func(a, b *chat.Attachment) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID))
	})
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// DeleteAttachments implements chat.AttachmentStore.
func (s *Store) DeleteAttachments(_ context.Context, ids []string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range ids {
		a, ok := s.attachments[id]
		if !ok {
			continue
		}
		delete(s.attachments, id)
		if conv, ok := s.convs[a.ConversationID]; ok {
			conv.attached = slices.DeleteFunc(conv.attached, func(x string) bool { return x == id })
		}
	}
	return nil
}

// UploadedBytes implements chat.AttachmentStore.
func (s *Store) UploadedBytes(_ context.Context, ownerID string, since time.Time) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var n int64
	for _, a := range s.attachments {
		if a.OwnerID == ownerID && !a.CreatedAt.Before(since) {
			n += a.Size
		}
	}
	return n, nil
}
