package cloud_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"os"
	"strconv"
	"testing"
	"time"

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
// s3blob driver speak real HTTP to it. TestConformanceS3Server runs it
// against a real one.
func TestConformanceS3(t *testing.T) {
	backend := s3mem.New()
	faker := gofakes3.New(backend)
	srv := httptest.NewServer(faker.Server())
	t.Cleanup(srv.Close)
	require.NoError(t, backend.CreateBucket("chat"))
	runS3(t, s3Client(srv.URL), "chat")
}

// TestConformanceS3Server runs the suite against the S3-compatible server
// at SHOPCHAT_S3_ENDPOINT (CI starts SeaweedFS's S3 gateway there), in a
// fresh bucket.
func TestConformanceS3Server(t *testing.T) {
	endpoint := os.Getenv("SHOPCHAT_S3_ENDPOINT")
	if endpoint == "" {
		t.Skip("SHOPCHAT_S3_ENDPOINT is not set (e.g. http://127.0.0.1:18333, an S3-compatible server)")
	}
	client := s3Client(endpoint)
	bucket := "chat-test-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	ctx := context.Background()
	_, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)})
	require.NoError(t, err, "create bucket %s at %s", bucket, endpoint)
	t.Cleanup(func() {
		// Empty, then drop the bucket; a leftover is only clutter.
		out, err := client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
		for err == nil && out != nil {
			for _, o := range out.Contents {
				client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: o.Key})
			}
			if out.IsTruncated == nil || !*out.IsTruncated {
				break
			}
			out, err = client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), ContinuationToken: out.NextContinuationToken})
		}
		_, err = client.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(bucket)})
		if err != nil && !errors.Is(err, context.Canceled) {
			t.Logf("delete bucket %s: %v", bucket, err)
		}
	})
	runS3(t, client, bucket)
}

func s3Client(endpoint string) *s3.Client {
	return s3.NewFromConfig(aws.Config{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("key", "secret", ""),
	}, func(o *s3.Options) {
		o.BaseEndpoint = aws.String(endpoint)
		o.UsePathStyle = true
	})
}

func runS3(t *testing.T, client *s3.Client, bucket string) {
	blobtest.Run(t, func(t testing.TB) chat.BlobStore {
		b, err := s3blob.OpenBucket(context.Background(), client, bucket, nil)
		require.NoError(t, err)
		s := cloud.New(b)
		t.Cleanup(func() { s.Close() })
		return s
	})
}
