package chat

import (
	"context"
	"time"
)

// The attachments role's checks; the interface, AttachmentStore, is in
// attachments.go beside the Attachment it stores.

func (c *checked) PutAttachment(ctx context.Context, a *Attachment) error {
	switch {
	case a == nil:
		return storeInvalid("attachment is nil")
	case a.ID == "" || a.OwnerID == "":
		return storeInvalid("attachment id and owner are required")
	case c.attachments == nil:
		return c.missing("attachments")
	}
	return c.attachments.PutAttachment(ctx, a)
}

func (c *checked) Attachment(ctx context.Context, id string) (*Attachment, error) {
	if c.attachments == nil {
		return nil, c.missing("attachments")
	}
	return c.attachments.Attachment(ctx, id)
}

func (c *checked) BindAttachments(ctx context.Context, convID string, seq int64, ownerID string, ids []string) error {
	if err := CheckBind(seq, ids); err != nil {
		return err
	}
	if c.attachments == nil {
		return c.missing("attachments")
	}
	return c.attachments.BindAttachments(ctx, convID, seq, ownerID, ids)
}

func (c *checked) MessageAttachments(ctx context.Context, convID string, fromSeq, toSeq int64) ([]*Attachment, error) {
	if c.attachments == nil {
		return nil, c.missing("attachments")
	}
	return c.attachments.MessageAttachments(ctx, convID, fromSeq, toSeq)
}

func (c *checked) UnsentAttachments(ctx context.Context, ownerID string, before time.Time, limit int) ([]*Attachment, error) {
	if c.attachments == nil {
		return nil, c.missing("attachments")
	}
	if limit <= 0 {
		limit = 100
	}
	return c.attachments.UnsentAttachments(ctx, ownerID, before, limit)
}

func (c *checked) DeleteAttachments(ctx context.Context, ids []string) error {
	if c.attachments == nil {
		return c.missing("attachments")
	}
	return c.attachments.DeleteAttachments(ctx, ids)
}

func (c *checked) UploadedBytes(ctx context.Context, ownerID string, since time.Time) (int64, error) {
	if c.attachments == nil {
		return 0, c.missing("attachments")
	}
	return c.attachments.UploadedBytes(ctx, ownerID, since)
}
