package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/shopchat/chat"
)

// Attachments: the chat.AttachmentStore role. Its statements are not
// prepared: they are rare next to messages, and the writer runs them on
// its own connection inside the batch's transaction.

var _ chat.AttachmentStore = (*Store)(nil)

const attachmentCols = `id, owner_id, coalesce(conversation_id, ''), seq, name, type, size, sha256, width, height, created_at`

func scanAttachment(sc scanner) (*chat.Attachment, error) {
	var a chat.Attachment
	var created int64
	err := sc.Scan(&a.ID, &a.OwnerID, &a.ConversationID, &a.Seq, &a.Name, &a.Type, &a.Size, &a.SHA256, &a.Width, &a.Height, &created)
	a.CreatedAt = fromMicros(created)
	return &a, err
}

// PutAttachment implements chat.AttachmentStore.
func (s *Store) PutAttachment(ctx context.Context, a *chat.Attachment) error {
	if a.ID == "" || a.OwnerID == "" {
		return invalid("attachment needs an id and an owner")
	}
	c := *a
	return s.write(ctx, func(w *writeStmts) error {
		_, err := s.wconn.ExecContext(bg, `INSERT INTO attachments (id, owner_id, name, type, size, sha256, width, height, created_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, c.ID, c.OwnerID, c.Name, c.Type, c.Size, c.SHA256, c.Width, c.Height, micros(c.CreatedAt))
		if isUnique(err, "") {
			return conflict("attachment", c.ID, "exists")
		}
		return dbErr("put attachment", err)
	})
}

// Attachment implements chat.AttachmentStore.
func (s *Store) Attachment(ctx context.Context, id string) (*chat.Attachment, error) {
	if err := s.ready(); err != nil {
		return nil, err
	}
	a, err := scanAttachment(s.rdb.QueryRowContext(ctx, `SELECT `+attachmentCols+` FROM attachments WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("attachment", id)
	}
	return a, dbErr("attachment", err)
}

// BindAttachments implements chat.AttachmentStore in one write: the writer
// is the only one, so the check and the update cannot interleave with
// another bind.
func (s *Store) BindAttachments(ctx context.Context, convID string, seq int64, ownerID string, ids []string) error {
	if err := chat.CheckBind(seq, ids); err != nil {
		return err
	}
	ids = slices.Clone(ids)
	return s.write(ctx, func(w *writeStmts) error {
		if err := w.convStatus.QueryRowContext(bg, convID).Scan(new(string)); errors.Is(err, sql.ErrNoRows) {
			return notFound("conversation", convID)
		} else if err != nil {
			return dbErr("bind attachments", err)
		}
		args := make([]any, len(ids))
		for i, id := range ids {
			args[i] = id
		}
		rows, err := s.wconn.QueryContext(bg, `SELECT `+attachmentCols+` FROM attachments WHERE id IN (?`+strings.Repeat(", ?", len(ids)-1)+`)`, args...)
		if err != nil {
			return dbErr("bind attachments", err)
		}
		var found []*chat.Attachment
		for rows.Next() {
			a, err := scanAttachment(rows)
			if err != nil {
				rows.Close()
				return dbErr("bind attachments", err)
			}
			found = append(found, a)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return dbErr("bind attachments", err)
		}
		if err := chat.CheckBindable(found, convID, seq, ownerID, ids); err != nil {
			return err
		}
		for i, id := range ids {
			if _, err := s.wconn.ExecContext(bg, `UPDATE attachments SET conversation_id = ?, seq = ?, pos = ? WHERE id = ?`, convID, seq, i, id); err != nil {
				return dbErr("bind attachments", err)
			}
		}
		return nil
	})
}

// MessageAttachments implements chat.AttachmentStore.
func (s *Store) MessageAttachments(ctx context.Context, convID string, fromSeq, toSeq int64) ([]*chat.Attachment, error) {
	if err := s.ready(); err != nil {
		return nil, err
	}
	return collect(ctx, s, "message attachments", scanAttachment, nil, `SELECT `+attachmentCols+` FROM attachments
WHERE conversation_id = ? AND seq BETWEEN ? AND ? ORDER BY seq, pos`, convID, fromSeq, toSeq)
}

// UnsentAttachments implements chat.AttachmentStore.
func (s *Store) UnsentAttachments(ctx context.Context, ownerID string, before time.Time, limit int) ([]*chat.Attachment, error) {
	if err := s.ready(); err != nil {
		return nil, err
	}
	if limit <= 0 {
		limit = 100
	}
	return collect(ctx, s, "unsent attachments", scanAttachment, nil, `SELECT `+attachmentCols+` FROM attachments
WHERE conversation_id IS NULL AND created_at < ?1 AND (?2 = '' OR owner_id = ?2) ORDER BY created_at, id LIMIT ?3`,
		micros(before), ownerID, limit)
}

// DeleteAttachments implements chat.AttachmentStore.
func (s *Store) DeleteAttachments(ctx context.Context, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	ids = slices.Clone(ids)
	return s.write(ctx, func(w *writeStmts) error {
		for _, id := range ids {
			if _, err := s.wconn.ExecContext(bg, `DELETE FROM attachments WHERE id = ?`, id); err != nil {
				return dbErr("delete attachments", err)
			}
		}
		return nil
	})
}

// UploadedBytes implements chat.AttachmentStore.
func (s *Store) UploadedBytes(ctx context.Context, ownerID string, since time.Time) (int64, error) {
	if err := s.ready(); err != nil {
		return 0, err
	}
	var n int64
	err := s.rdb.QueryRowContext(ctx, `SELECT coalesce(sum(size), 0) FROM attachments WHERE owner_id = ? AND created_at >= ?`,
		ownerID, micros(since)).Scan(&n)
	return n, dbErr("uploaded bytes", err)
}
