// Package file is a chat.BlobStore that keeps each blob as a file in one
// directory: the default for a single process, next to its SQLite file.
// Several nodes can share it only through a shared file system; for many
// nodes prefer blob/postgres or blob/cloud.
//
//	blobs, err := file.Open(filepath.Join(dataDir, "attachments"))
package file

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/shopchat/chat"
)

// tmpPrefix starts the name of a blob being written; no key starts with a
// dot, so List never reports one.
const tmpPrefix = ".tmp-"

// Store keeps blobs in a directory. It is safe for concurrent use, by
// several processes too: a blob is written to a temporary file and renamed
// into place, so a reader sees the old blob or the new one, never half.
type Store struct {
	dir string
}

// Open returns a Store in dir, creating it (mode 0700) if needed. It
// removes temporary files a crashed process left more than an hour ago.
func Open(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("blob/file: %w", err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("blob/file: %w", err)
	}
	for _, e := range entries {
		if info, err := e.Info(); err == nil && strings.HasPrefix(e.Name(), tmpPrefix) && time.Since(info.ModTime()) > time.Hour {
			os.Remove(filepath.Join(dir, e.Name()))
		}
	}
	return &Store{dir: dir}, nil
}

func (s *Store) path(key string) (string, error) {
	if !chat.ValidBlobKey(key) {
		return "", fmt.Errorf("%w: blob key %q", chat.ErrInvalid, key)
	}
	return filepath.Join(s.dir, key), nil
}

// Put implements chat.BlobStore.
func (s *Store) Put(ctx context.Context, key string, r io.Reader) (err error) {
	path, err := s.path(key)
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(s.dir, tmpPrefix+"*")
	if err != nil {
		return fmt.Errorf("blob/file: %w", err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if _, err = io.Copy(f, ctxReader{ctx, r}); err != nil {
		return fmt.Errorf("blob/file: write %s: %w", key, err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("blob/file: %w", err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("blob/file: %w", err)
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("blob/file: %w", err)
	}
	return nil
}

// ctxReader stops a copy once ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// Get implements chat.BlobStore.
func (s *Store) Get(ctx context.Context, key string) (io.ReadCloser, int64, error) {
	path, err := s.path(key)
	if err != nil {
		return nil, 0, err
	}
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, 0, fmt.Errorf("%w: blob %s", chat.ErrNotFound, key)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("blob/file: %w", err)
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("blob/file: %w", err)
	}
	return f, info.Size(), nil
}

// Delete implements chat.BlobStore.
func (s *Store) Delete(ctx context.Context, key string) error {
	path, err := s.path(key)
	if err != nil {
		return err
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("blob/file: %w", err)
	}
	return nil
}

// List implements chat.BlobStore.
func (s *Store) List(ctx context.Context, fn func(key string, written time.Time) error) error {
	d, err := os.Open(s.dir)
	if err != nil {
		return fmt.Errorf("blob/file: %w", err)
	}
	defer d.Close()
	for {
		entries, err := d.ReadDir(256) // a page at a time: the directory may be large
		for _, e := range entries {
			if !chat.ValidBlobKey(e.Name()) || !e.Type().IsRegular() {
				continue
			}
			info, err := e.Info()
			if errors.Is(err, fs.ErrNotExist) {
				continue // deleted meanwhile
			}
			if err != nil {
				return fmt.Errorf("blob/file: %w", err)
			}
			if err := fn(e.Name(), info.ModTime()); err != nil {
				return err
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("blob/file: %w", err)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
}
