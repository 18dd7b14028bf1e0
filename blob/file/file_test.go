package file_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/shopchat/chat"
	"github.com/shopchat/chat/blob/blobtest"
	"github.com/shopchat/chat/blob/file"
)

func TestConformance(t *testing.T) {
	dir := t.TempDir() // shared by every store of the run, as nodes on one file system
	blobtest.Run(t, func(t testing.TB) chat.BlobStore {
		s, err := file.Open(dir)
		require.NoError(t, err)
		return s
	})
}
