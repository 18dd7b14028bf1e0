// Package blobtest is the conformance suite for chat.BlobStore
// implementations. Every blob store in this module passes it against the
// real system it stores in (a directory, PostgreSQL, an S3-compatible
// server), and a plugin author proves a custom one with one call:
//
//	func TestConformance(t *testing.T) {
//		blobtest.Run(t, func(t testing.TB) chat.BlobStore {
//			b, err := myblob.Open(dir)
//			if err != nil {
//				t.Fatal(err)
//			}
//			return b
//		})
//	}
//
// open is called once per case. The store need not be empty: every case
// uses keys with a random prefix of its own, and List is only checked for
// the keys a case wrote. Two stores open returns in one case must share
// their blobs (as two shop processes would); the Shared case checks it.
//
// Run one case with -run, e.g. go test -run 'TestConformance/Blobs/Overwrite'.
// Cases never sleep or assert timings.
package blobtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shopchat/chat"
	"github.com/shopchat/chat/internal/suite"
)

// Case is one conformance check; Name is "Area/Check".
type Case struct {
	Name string
	Fn   func(t testing.TB, open func(t testing.TB) chat.BlobStore)
}

// Run runs every case as a subtest named by its Name.
func Run(t *testing.T, open func(t testing.TB) chat.BlobStore) {
	t.Helper()
	cases := Cases()
	names := make([]string, len(cases))
	for i, c := range cases {
		names[i] = c.Name
	}
	suite.Run(t, names, func(t *testing.T, i int) { cases[i].Fn(t, open) }, nil)
}

// Cases returns the suite's cases in a stable order.
func Cases() []Case {
	return []Case{
		{"Blobs/PutGet", putGet},
		{"Blobs/Empty", empty},
		{"Blobs/Large", large},
		{"Blobs/Overwrite", overwrite},
		{"Blobs/GetMissing", getMissing},
		{"Blobs/Delete", deleteBlob},
		{"Blobs/InvalidKeys", invalidKeys},
		{"Blobs/FailedPut", failedPut},
		{"Blobs/CancelledPut", cancelledPut},
		{"Blobs/Shared", shared},
		{"Blobs/Concurrent", concurrent},
		{"List/SeesEveryBlob", listSees},
		{"List/StopsOnError", listStops},
	}
}

var ctx = context.Background()

// prefix returns a random key prefix, so cases on a shared backend never
// see each other's blobs.
func prefix() string { return "bt" + rand.Text()[:12] }

func randomBytes(t testing.TB, n int) []byte {
	b := make([]byte, n)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return b
}

func mustPut(t testing.TB, b chat.BlobStore, key string, data []byte) {
	t.Helper()
	require.NoError(t, b.Put(ctx, key, bytes.NewReader(data)), "Put %q", key)
}

// read returns the blob under key, checking that Get's size matches.
func read(t testing.TB, b chat.BlobStore, key string) []byte {
	t.Helper()
	r, size, err := b.Get(ctx, key)
	require.NoError(t, err, "Get %q", key)
	defer r.Close()
	data, err := io.ReadAll(r)
	require.NoError(t, err, "read %q", key)
	assert.EqualValues(t, len(data), size, "Get's size for %q", key)
	return data
}

func putGet(t testing.TB, open func(testing.TB) chat.BlobStore) {
	b := open(t)
	key := prefix()
	data := randomBytes(t, 4096)
	mustPut(t, b, key, data)
	assert.Equal(t, data, read(t, b, key))
	assert.Equal(t, data, read(t, b, key), "a second Get")
}

func empty(t testing.TB, open func(testing.TB) chat.BlobStore) {
	b := open(t)
	key := prefix()
	mustPut(t, b, key, nil)
	assert.Empty(t, read(t, b, key))
}

// large round-trips 5 MiB of random bytes (a phone photo), compared by checksum.
func large(t testing.TB, open func(testing.TB) chat.BlobStore) {
	b := open(t)
	key := prefix()
	data := randomBytes(t, 5<<20+123)
	mustPut(t, b, key, data)
	assert.Equal(t, sha256.Sum256(data), sha256.Sum256(read(t, b, key)))
}

func overwrite(t testing.TB, open func(testing.TB) chat.BlobStore) {
	b := open(t)
	key := prefix()
	mustPut(t, b, key, []byte("first, and longer than the second"))
	mustPut(t, b, key, []byte("second"))
	assert.Equal(t, "second", string(read(t, b, key)))
}

func getMissing(t testing.TB, open func(testing.TB) chat.BlobStore) {
	b := open(t)
	_, _, err := b.Get(ctx, prefix())
	assert.ErrorIs(t, err, chat.ErrNotFound)
}

func deleteBlob(t testing.TB, open func(testing.TB) chat.BlobStore) {
	b := open(t)
	key, other := prefix(), prefix()
	mustPut(t, b, key, []byte("gone soon"))
	mustPut(t, b, other, []byte("stays"))
	require.NoError(t, b.Delete(ctx, key))
	_, _, err := b.Get(ctx, key)
	assert.ErrorIs(t, err, chat.ErrNotFound, "Get after Delete")
	assert.NoError(t, b.Delete(ctx, key), "deleting a missing blob")
	assert.Equal(t, "stays", string(read(t, b, other)), "Delete removed only its key")
}

func invalidKeys(t testing.TB, open func(testing.TB) chat.BlobStore) {
	b := open(t)
	for _, key := range []string{"", "../escape", "a/b", `a\b`, ".", "..", "a b", "a.b", "ключ", "a\x00b", strings.Repeat("k", 129)} {
		assert.ErrorIs(t, b.Put(ctx, key, strings.NewReader("x")), chat.ErrInvalid, "Put %q", key)
		_, _, err := b.Get(ctx, key)
		assert.ErrorIs(t, err, chat.ErrInvalid, "Get %q", key)
		assert.ErrorIs(t, b.Delete(ctx, key), chat.ErrInvalid, "Delete %q", key)
	}
	key := strings.Repeat("k", 100) + prefix()
	require.Len(t, key, 114)
	mustPut(t, b, key, []byte("long keys work"))
	assert.Equal(t, "long keys work", string(read(t, b, key)))
}

// failingReader yields n bytes, then fails.
type failingReader struct{ n int }

var errRead = errors.New("blobtest: the upload broke")

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n == 0 {
		return 0, errRead
	}
	n := min(len(p), f.n)
	for i := range n {
		p[i] = 'x'
	}
	f.n -= n
	return n, nil
}

func failedPut(t testing.TB, open func(testing.TB) chat.BlobStore) {
	b := open(t)
	key := prefix()
	err := b.Put(ctx, key, &failingReader{n: 100 << 10})
	require.Error(t, err, "Put from a reader that fails")
	_, _, err = b.Get(ctx, key)
	assert.ErrorIs(t, err, chat.ErrNotFound, "a failed Put leaves no blob")
	assert.NotContains(t, listed(t, b), key)
}

// blockingReader yields a chunk, then cancels the Put's context and blocks
// until it is done.
type blockingReader struct {
	ctx    context.Context
	cancel context.CancelFunc
	sent   bool
}

func (r *blockingReader) Read(p []byte) (int, error) {
	if !r.sent {
		r.sent = true
		return copy(p, bytes.Repeat([]byte("y"), 1024)), nil
	}
	r.cancel()
	<-r.ctx.Done()
	return 0, r.ctx.Err()
}

func cancelledPut(t testing.TB, open func(testing.TB) chat.BlobStore) {
	b := open(t)
	key := prefix()
	c, cancel := context.WithCancel(ctx)
	defer cancel()
	err := b.Put(c, key, &blockingReader{ctx: c, cancel: cancel})
	require.Error(t, err, "a cancelled Put")
	_, _, err = b.Get(ctx, key)
	assert.ErrorIs(t, err, chat.ErrNotFound, "a cancelled Put leaves no blob")
}

// shared checks that two stores opened on one backend see each other's
// blobs, as the nodes of a shop do.
func shared(t testing.TB, open func(testing.TB) chat.BlobStore) {
	a, b := open(t), open(t)
	key := prefix()
	mustPut(t, a, key, []byte("from node a"))
	assert.Equal(t, "from node a", string(read(t, b, key)))
	require.NoError(t, b.Delete(ctx, key))
	_, _, err := a.Get(ctx, key)
	assert.ErrorIs(t, err, chat.ErrNotFound)
}

func concurrent(t testing.TB, open func(testing.TB) chat.BlobStore) {
	b := open(t)
	p := prefix()
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := range 16 {
		wg.Go(func() {
			key := fmt.Sprintf("%s-%d", p, i)
			errs <- b.Put(ctx, key, strings.NewReader(strings.Repeat(key, 500)))
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	for i := range 16 {
		key := fmt.Sprintf("%s-%d", p, i)
		assert.Equal(t, strings.Repeat(key, 500), string(read(t, b, key)))
	}
}

// listed returns every key List reports, with its written time.
func listedTimes(t testing.TB, b chat.BlobStore) map[string]time.Time {
	t.Helper()
	keys := map[string]time.Time{}
	require.NoError(t, b.List(ctx, func(key string, written time.Time) error {
		keys[key] = written
		return nil
	}))
	return keys
}

func listed(t testing.TB, b chat.BlobStore) []string {
	var keys []string
	for k := range listedTimes(t, b) {
		keys = append(keys, k)
	}
	return keys
}

func listSees(t testing.TB, open func(testing.TB) chat.BlobStore) {
	b := open(t)
	p := prefix()
	before := time.Now().Add(-time.Hour) // generous: the backend's clock may differ a little
	want := []string{p + "-a", p + "-b", p + "-c"}
	for _, k := range want {
		mustPut(t, b, k, []byte(k))
	}
	require.NoError(t, b.Delete(ctx, p+"-b"))
	after := time.Now().Add(time.Hour)
	got := listedTimes(t, b)
	for _, k := range []string{p + "-a", p + "-c"} {
		w, ok := got[k]
		if assert.True(t, ok, "List misses %q", k) {
			assert.True(t, w.After(before) && w.Before(after), "written time of %q is %v, not about now", k, w)
		}
	}
	assert.NotContains(t, got, p+"-b", "List shows a deleted blob")
}

func listStops(t testing.TB, open func(testing.TB) chat.BlobStore) {
	b := open(t)
	p := prefix()
	mustPut(t, b, p+"-1", []byte("1"))
	mustPut(t, b, p+"-2", []byte("2"))
	stop := errors.New("blobtest: enough")
	calls := 0
	err := b.List(ctx, func(string, time.Time) error {
		calls++
		return stop
	})
	assert.ErrorIs(t, err, stop, "List returns fn's error")
	assert.Equal(t, 1, calls, "List stops at fn's first error")
}
