package postgres

import (
	"testing"

	"github.com/shopchat/chat"
	"github.com/shopchat/chat/blob/blobtest"
)

// TestBlobConformance runs the blob suite on Store.Blobs against the real
// server; every store of the run shares one schema, as nodes share a
// database.
func TestBlobConformance(t *testing.T) {
	dsn := testDSN(t)
	schema := freshSchema(t, dsn)
	blobtest.Run(t, func(t testing.TB) chat.BlobStore {
		return openStore(t, dsn, schema).Blobs()
	})
}
