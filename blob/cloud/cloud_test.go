package cloud_test

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/stretchr/testify/require"
	"gocloud.dev/blob/fileblob"
	"gocloud.dev/blob/s3blob"

	"github.com/shopchat/chat"
	"github.com/shopchat/chat/blob/blobtest"
	"github.com/shopchat/chat/blob/cloud"
)

// TestConformanceFileBucket runs the suite on gocloud's file driver.
func TestConformanceFileBucket(t *testing.T) {
	dir := t.TempDir()
	blobtest.Run(t, func(t testing.TB) chat.BlobStore {
		b, err := fileblob.OpenBucket(dir, nil)
		require.NoError(t, err)
		s := cloud.New(b)
		t.Cleanup(func() { s.Close() })
		return s
	})
}

// TestConformanceS3 runs the suite over the S3 protocol against gofakes3,
// an in-process S3-compatible server on loopback: the real AWS SDK and
// s3blob driver speak real HTTP to it, but it is not AWS S3 itself (no
// SeaweedFS or MinIO server is built here).
func TestConformanceS3(t *testing.T) {
	backend := s3mem.New()
	faker := gofakes3.New(backend)
	srv := httptest.NewServer(faker.Server())
	t.Cleanup(srv.Close)
	require.NoError(t, backend.CreateBucket("chat"))
	client := s3.NewFromConfig(aws.Config{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("key", "secret", ""),
	}, func(o *s3.Options) {
		o.BaseEndpoint = aws.String(srv.URL)
		o.UsePathStyle = true
	})
	blobtest.Run(t, func(t testing.TB) chat.BlobStore {
		b, err := s3blob.OpenBucket(context.Background(), client, "chat", nil)
		require.NoError(t, err)
		s := cloud.New(b)
		t.Cleanup(func() { s.Close() })
		return s
	})
}
