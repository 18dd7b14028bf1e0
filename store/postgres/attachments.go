package postgres

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/shopchat/chat"
)

// Attachments: the chat.AttachmentStore role, and a chat.BlobStore in the
// same database (Blobs).

const attachmentCols = `id, owner_id, coalesce(conversation_id, ''), seq, name, type, size, sha256, width, height, created_at`

func scanAttachment(row pgx.Row) (*chat.Attachment, error) {
	var a chat.Attachment
	if err := row.Scan(&a.ID, &a.OwnerID, &a.ConversationID, &a.Seq, &a.Name, &a.Type, &a.Size, &a.SHA256, &a.Width, &a.Height, &a.CreatedAt); err != nil {
		return nil, err
	}
	a.CreatedAt = a.CreatedAt.UTC()
	return &a, nil
}

func collectAttachments(rows pgx.Rows, err error) ([]*chat.Attachment, error) {
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (*chat.Attachment, error) { return scanAttachment(r) })
}

// PutAttachment implements chat.AttachmentStore.
func (s *Store) PutAttachment(ctx context.Context, a *chat.Attachment) error {
	if a.ID == "" || a.OwnerID == "" {
		return fmt.Errorf("postgres: attachment needs an id and an owner: %w", chat.ErrInvalid)
	}
	if err := unstorable("attachment", a.ID, a.OwnerID, a.Name, a.Type, a.SHA256); err != nil {
		return err
	}
	return s.write(ctx, "put attachment", func() error {
		_, err := s.pool.Exec(ctx, `INSERT INTO chat_attachments (id, owner_id, name, type, size, sha256, width, height, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`, a.ID, a.OwnerID, a.Name, a.Type, a.Size, a.SHA256, a.Width, a.Height, a.CreatedAt)
		return err
	})
}

// Attachment implements chat.AttachmentStore.
func (s *Store) Attachment(ctx context.Context, id string) (*chat.Attachment, error) {
	if !storable(id) {
		return nil, notFound("attachment", id)
	}
	var a *chat.Attachment
	err := s.read(ctx, "attachment", func() (err error) {
		a, err = scanAttachment(s.pool.QueryRow(ctx, `SELECT `+attachmentCols+` FROM chat_attachments WHERE id = $1`, id))
		if errors.Is(err, pgx.ErrNoRows) {
			return notFound("attachment", id)
		}
		return err
	})
	return a, err
}

// BindAttachments implements chat.AttachmentStore in one transaction that
// locks the attachments' rows, so two sends racing for one upload bind it
// once.
func (s *Store) BindAttachments(ctx context.Context, convID string, seq int64, ownerID string, ids []string) error {
	if err := chat.CheckBind(seq, ids); err != nil {
		return err
	}
	if !storable(convID) || !storable(ownerID) {
		return notFound("conversation", convID)
	}
	for _, id := range ids {
		if !storable(id) {
			return notFound("attachment", id)
		}
	}
	return s.write(ctx, "bind attachments", func() error {
		return s.inTx(ctx, func(tx pgx.Tx) error {
			rows, err := tx.Query(ctx, `SELECT `+attachmentCols+` FROM chat_attachments WHERE id = ANY($1) ORDER BY id FOR UPDATE`, ids)
			found, err := collectAttachments(rows, err)
			if err != nil {
				return err
			}
			if err := chat.CheckBindable(found, convID, seq, ownerID, ids); err != nil {
				return err
			}
			_, err = tx.Exec(ctx, `UPDATE chat_attachments SET conversation_id = $1, seq = $2, pos = array_position($3::text[], id)
				WHERE id = ANY($3)`, convID, seq, ids)
			return err
		})
	})
}

// MessageAttachments implements chat.AttachmentStore.
func (s *Store) MessageAttachments(ctx context.Context, convID string, fromSeq, toSeq int64) ([]*chat.Attachment, error) {
	if !storable(convID) {
		return nil, nil
	}
	var out []*chat.Attachment
	err := s.read(ctx, "message attachments", func() (err error) {
		rows, err := s.pool.Query(ctx, `SELECT `+attachmentCols+` FROM chat_attachments
			WHERE conversation_id = $1 AND seq BETWEEN $2 AND $3 ORDER BY seq, pos`, convID, fromSeq, toSeq)
		out, err = collectAttachments(rows, err)
		return err
	})
	return out, err
}

// UnsentAttachments implements chat.AttachmentStore.
func (s *Store) UnsentAttachments(ctx context.Context, ownerID string, before time.Time, limit int) ([]*chat.Attachment, error) {
	if limit <= 0 {
		limit = 100
	}
	if !storable(ownerID) {
		return nil, nil
	}
	var out []*chat.Attachment
	err := s.read(ctx, "unsent attachments", func() (err error) {
		rows, err := s.pool.Query(ctx, `SELECT `+attachmentCols+` FROM chat_attachments
			WHERE conversation_id IS NULL AND created_at < $1 AND ($2 = '' OR owner_id = $2)
			ORDER BY created_at, id LIMIT $3`, before, ownerID, limit)
		out, err = collectAttachments(rows, err)
		return err
	})
	return out, err
}

// DeleteAttachments implements chat.AttachmentStore.
func (s *Store) DeleteAttachments(ctx context.Context, ids []string) error {
	var keep []string
	for _, id := range ids {
		if storable(id) {
			keep = append(keep, id)
		}
	}
	if len(keep) == 0 {
		return nil
	}
	return s.write(ctx, "delete attachments", func() error {
		_, err := s.pool.Exec(ctx, `DELETE FROM chat_attachments WHERE id = ANY($1)`, keep)
		return err
	})
}

// UploadedBytes implements chat.AttachmentStore.
func (s *Store) UploadedBytes(ctx context.Context, ownerID string, since time.Time) (int64, error) {
	if !storable(ownerID) {
		return 0, nil
	}
	var n int64
	err := s.read(ctx, "uploaded bytes", func() error {
		return s.pool.QueryRow(ctx, `SELECT coalesce(sum(size), 0)::bigint FROM chat_attachments
			WHERE owner_id = $1 AND created_at >= $2`, ownerID, since).Scan(&n)
	})
	return n, err
}

// Blobs returns a chat.BlobStore that keeps attachments' bytes in this
// database (table chat_blobs, as bytea), for shops that want nothing new to
// run. Each blob is held in memory while it is written and stored in one
// row, so it suits attachments up to tens of megabytes (the Server's caps
// are far below PostgreSQL's 1 GB bytea limit). It shares the Store's
// connection pool and is closed with it.
func (s *Store) Blobs() chat.BlobStore { return blobs{s} }

type blobs struct{ s *Store }

func checkKey(key string) error {
	if !chat.ValidBlobKey(key) {
		return fmt.Errorf("postgres: blob key %q: %w", key, chat.ErrInvalid)
	}
	return nil
}

// Put implements chat.BlobStore. The bytes are read whole before the one
// INSERT, so a failing reader or an ended context writes nothing.
func (b blobs) Put(ctx context.Context, key string, r io.Reader) error {
	if err := checkKey(key); err != nil {
		return err
	}
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(r); err != nil {
		return fmt.Errorf("postgres: blob %s: %w", key, err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return b.s.write(ctx, "put blob", func() error {
		_, err := b.s.pool.Exec(ctx, `INSERT INTO chat_blobs (key, data, written_at) VALUES ($1, $2, now())
			ON CONFLICT (key) DO UPDATE SET data = excluded.data, written_at = excluded.written_at`, key, buf.Bytes())
		return err
	})
}

// Get implements chat.BlobStore.
func (b blobs) Get(ctx context.Context, key string) (io.ReadCloser, int64, error) {
	if err := checkKey(key); err != nil {
		return nil, 0, err
	}
	var data []byte
	err := b.s.read(ctx, "get blob", func() error {
		err := b.s.pool.QueryRow(ctx, `SELECT data FROM chat_blobs WHERE key = $1`, key).Scan(&data)
		if errors.Is(err, pgx.ErrNoRows) {
			return notFound("blob", key)
		}
		return err
	})
	if err != nil {
		return nil, 0, err
	}
	return io.NopCloser(bytes.NewReader(data)), int64(len(data)), nil
}

// Delete implements chat.BlobStore.
func (b blobs) Delete(ctx context.Context, key string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	return b.s.write(ctx, "delete blob", func() error {
		_, err := b.s.pool.Exec(ctx, `DELETE FROM chat_blobs WHERE key = $1`, key)
		return err
	})
}

// List implements chat.BlobStore, a page of keys at a time so no query
// holds the table for long.
func (b blobs) List(ctx context.Context, fn func(key string, written time.Time) error) error {
	after := ""
	for {
		type row struct {
			key     string
			written time.Time
		}
		var page []row
		err := b.s.read(ctx, "list blobs", func() error {
			page = page[:0]
			rows, err := b.s.pool.Query(ctx, `SELECT key, written_at FROM chat_blobs WHERE key > $1 ORDER BY key LIMIT 500`, after)
			if err != nil {
				return err
			}
			var r row
			_, err = pgx.ForEachRow(rows, []any{&r.key, &r.written}, func() error {
				page = append(page, r)
				return nil
			})
			return err
		})
		if err != nil {
			return err
		}
		for _, r := range page {
			if err := fn(r.key, r.written); err != nil {
				return err
			}
		}
		if len(page) < 500 {
			return nil
		}
		after = page[len(page)-1].key
	}
}
