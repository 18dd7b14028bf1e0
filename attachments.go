package chat

import (
	"context"
	"fmt"
	"io"
	"regexp"
	"time"
)

// Attachment is the metadata of a file sent in a conversation: an image,
// a PDF, a text file. The bytes live in a BlobStore under the attachment's
// ID; the metadata lives in the Store (AttachmentStore), so a message's
// attachments are read with it.
type Attachment struct {
	ID string // server-assigned; also the blob's key
	// OwnerID is who uploaded it: a visitor or operator id, or the visitor
	// whose email carried it.
	OwnerID string
	// ConversationID and Seq name the message the attachment was sent
	// with; both are zero while it is an upload not yet sent.
	ConversationID string
	Seq            int64
	Name           string // the file's name as given, cleaned; for display only
	Type           string // media type decided by sniffing the content, never the client's claim
	Size           int64  // bytes as stored (after an image's re-encoding)
	SHA256         string // hex checksum of the stored bytes
	Width, Height  int    // pixels, for images; 0 otherwise
	CreatedAt      time.Time
}

// IsImage reports whether the attachment is shown inline as an image.
func (a *Attachment) IsImage() bool { return len(a.Type) > 6 && a.Type[:6] == "image/" }

// AttachmentStore is an optional Store role: the metadata of attachments.
// The Server finds it with StoreAs; without it (or without
// Config.Attachments.Blobs) attachments are off. store/memory, store/sqlite
// and store/postgres implement it, and storetest checks it.
//
// An attachment is first stored unsent (PutAttachment, right after its
// upload) and then bound to the message it was sent with
// (BindAttachments). Bound attachments go with their conversation:
// DeleteVisitor and PurgeClosed delete their metadata too, and the Server
// then deletes the blobs no metadata names.
type AttachmentStore interface {
	// PutAttachment stores the metadata of an unsent upload (a.ConversationID
	// and a.Seq are ignored and stored empty). ErrInvalid for an empty ID or
	// OwnerID; ErrConflict if the ID exists.
	PutAttachment(ctx context.Context, a *Attachment) error
	// Attachment returns the attachment with id, or ErrNotFound.
	Attachment(ctx context.Context, id string) (*Attachment, error)
	// BindAttachments binds the attachments ids, in that order, to message
	// seq of conversation convID, all or none. Each must be owned by
	// ownerID and be unsent or already bound to exactly that message (so a
	// retried send binds once); otherwise ErrConflict. ErrNotFound if one
	// is unknown or the conversation is. ErrInvalid for an empty list or a
	// seq < 1.
	BindAttachments(ctx context.Context, convID string, seq int64, ownerID string, ids []string) error
	// MessageAttachments returns the attachments bound to messages of
	// convID with fromSeq <= Seq <= toSeq, by Seq and then bind order.
	MessageAttachments(ctx context.Context, convID string, fromSeq, toSeq int64) ([]*Attachment, error)
	// UnsentAttachments returns unsent uploads created before before, owned
	// by ownerID (any owner for ""), oldest first, at most limit (0 means
	// 100).
	UnsentAttachments(ctx context.Context, ownerID string, before time.Time, limit int) ([]*Attachment, error)
	// DeleteAttachments deletes the metadata of the given attachments;
	// unknown ids are skipped.
	DeleteAttachments(ctx context.Context, ids []string) error
	// UploadedBytes sums the Size of the attachments ownerID uploaded at or
	// after since (sent or not), for the per-day cap.
	UploadedBytes(ctx context.Context, ownerID string, since time.Time) (int64, error)
}

// BlobStore keeps the bytes of attachments, outside the message store. It
// is a plug point: blob/file keeps them in a directory (the default next
// to a SQLite file), blob/postgres in PostgreSQL, and blob/cloud in any
// gocloud.dev bucket (S3 and S3-compatible servers, GCS, Azure). A custom
// one proves itself with blob/blobtest.
//
// Keys are the Server's attachment ids: 1 to 128 bytes of ASCII letters,
// digits, '-' and '_' (ValidBlobKey); stores refuse others with
// ErrInvalid, so no key can name a path outside the store. Methods take a
// context first, are safe for concurrent use and return the package's
// sentinel errors wrapped.
type BlobStore interface {
	// Put stores the bytes r yields under key, replacing any blob there.
	// A blob is readable only once Put has returned nil: a failed or
	// cancelled Put leaves no partial blob readable.
	Put(ctx context.Context, key string, r io.Reader) error
	// Get returns the blob under key and its size, or ErrNotFound. The
	// caller closes the reader.
	Get(ctx context.Context, key string) (io.ReadCloser, int64, error)
	// Delete removes the blob under key; a missing blob is not an error.
	Delete(ctx context.Context, key string) error
	// List calls fn for every blob, in no particular order, with its key
	// and when it was written, and stops at fn's first error, returning
	// it. The Server's sweep uses it to find blobs no metadata names.
	// Blobs written or deleted during List may or may not be seen.
	List(ctx context.Context, fn func(key string, written time.Time) error) error
}

var blobKey = regexp.MustCompile(`^[A-Za-z0-9_-]{1,128}$`)

// ValidBlobKey reports whether key is a key every BlobStore takes.
func ValidBlobKey(key string) bool { return blobKey.MatchString(key) }

// ErrRejected: an upload was refused for its content: a type not allowed,
// a file that does not decode as what it claims, one over a size cap, or
// one the scan hook refused. It wraps ErrInvalid.
var ErrRejected = fmt.Errorf("%w: attachment rejected", ErrInvalid)

// MaxAttachmentsPerMessage is the most attachments one message carries.
const MaxAttachmentsPerMessage = 10

// CheckBind checks the arguments of AttachmentStore.BindAttachments that
// need no stored state, for stores to call first: ErrInvalid for seq < 1,
// no ids, more than MaxAttachmentsPerMessage or a repeated id.
func CheckBind(seq int64, ids []string) error {
	switch {
	case seq < 1:
		return invalidf("attachments bind to a message's seq, not %d", seq)
	case len(ids) == 0 || len(ids) > MaxAttachmentsPerMessage:
		return invalidf("a message carries 1 to %d attachments, not %d", MaxAttachmentsPerMessage, len(ids))
	}
	seen := make(map[string]bool, len(ids))
	for _, id := range ids {
		if seen[id] {
			return invalidf("attachment %q listed twice", id)
		}
		seen[id] = true
	}
	return nil
}

// CheckBindable decides AttachmentStore.BindAttachments once the store has
// read (and locked) the stored attachments found among ids: ErrNotFound if
// one is missing; ErrConflict if one belongs to someone other than
// ownerID or is bound to another message than (convID, seq).
func CheckBindable(found []*Attachment, convID string, seq int64, ownerID string, ids []string) error {
	byID := make(map[string]*Attachment, len(found))
	for _, a := range found {
		byID[a.ID] = a
	}
	for _, id := range ids {
		a, ok := byID[id]
		switch {
		case !ok:
			return fmt.Errorf("attachment %q: %w", id, ErrNotFound)
		case a.OwnerID != ownerID:
			return fmt.Errorf("attachment %q is not %q's upload: %w", id, ownerID, ErrConflict)
		case a.ConversationID != "" && (a.ConversationID != convID || a.Seq != seq):
			return fmt.Errorf("attachment %q was sent with another message: %w", id, ErrConflict)
		}
	}
	return nil
}
