// Package cloud is a chat.BlobStore on a gocloud.dev/blob bucket: S3 and
// S3-compatible servers (MinIO, SeaweedFS, Ceph, R2), Google Cloud
// Storage, Azure Blob Storage, or a local directory, chosen by URL. Import
// the driver for the scheme you use:
//
//	import _ "gocloud.dev/blob/s3blob"
//
//	blobs, err := cloud.Open(ctx, "s3://my-bucket?region=eu-central-1&prefix=chat/")
//
// Several shop nodes share one bucket. Only the drivers a program imports
// are linked in; the root chat package imports none of this.
package cloud

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"gocloud.dev/blob"
	"gocloud.dev/gcerrors"

	"github.com/shopchat/chat"
)

// Store is a chat.BlobStore on a bucket. It is safe for concurrent use.
type Store struct {
	b *blob.Bucket
}

// Open opens the bucket at url (see gocloud.dev/blob.OpenBucket). Close
// the Store when done.
func Open(ctx context.Context, url string) (*Store, error) {
	b, err := blob.OpenBucket(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("blob/cloud: %w", err)
	}
	return New(b), nil
}

// New returns a Store on an open bucket (e.g. from s3blob.OpenBucket with a
// client you configured). Closing the Store closes the bucket.
func New(b *blob.Bucket) *Store { return &Store{b: b} }

// Close closes the bucket.
func (s *Store) Close() error { return s.b.Close() }

func check(key string) error {
	if !chat.ValidBlobKey(key) {
		return fmt.Errorf("%w: blob key %q", chat.ErrInvalid, key)
	}
	return nil
}

func wrap(op, key string, err error) error {
	if gcerrors.Code(err) == gcerrors.NotFound {
		return fmt.Errorf("%w: blob %s", chat.ErrNotFound, key)
	}
	return fmt.Errorf("blob/cloud: %s %s: %w", op, key, err)
}

// Put implements chat.BlobStore. A writer whose source fails or whose
// context ends is aborted, so the bucket never holds a partial blob.
func (s *Store) Put(ctx context.Context, key string, r io.Reader) error {
	if err := check(key); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w, err := s.b.NewWriter(ctx, key, &blob.WriterOptions{ContentType: "application/octet-stream"})
	if err != nil {
		return wrap("put", key, err)
	}
	if _, err := io.Copy(w, r); err != nil {
		cancel() // aborts the upload: Close then discards it
		w.Close()
		return wrap("put", key, err)
	}
	if err := w.Close(); err != nil {
		return wrap("put", key, err)
	}
	return nil
}

// Get implements chat.BlobStore.
func (s *Store) Get(ctx context.Context, key string) (io.ReadCloser, int64, error) {
	if err := check(key); err != nil {
		return nil, 0, err
	}
	r, err := s.b.NewReader(ctx, key, nil)
	if err != nil {
		return nil, 0, wrap("get", key, err)
	}
	return r, r.Size(), nil
}

// Delete implements chat.BlobStore.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := check(key); err != nil {
		return err
	}
	if err := s.b.Delete(ctx, key); err != nil && gcerrors.Code(err) != gcerrors.NotFound {
		return wrap("delete", key, err)
	}
	return nil
}

// List implements chat.BlobStore. Keys that are not blob keys (other data
// in a shared bucket) are skipped.
func (s *Store) List(ctx context.Context, fn func(key string, written time.Time) error) error {
	it := s.b.List(nil)
	for {
		o, err := it.Next(ctx)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("blob/cloud: list: %w", err)
		}
		if o.IsDir || !chat.ValidBlobKey(o.Key) {
			continue
		}
		if err := fn(o.Key, o.ModTime); err != nil {
			return err
		}
	}
}
