package chat

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	_ "image/gif" // decodes GIF uploads
	"image/jpeg"
	"image/png"
	"io"
	"mime"
	"net/http"
	"os"
	"path"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/shopchat/chat/internal/refuse"
	"github.com/shopchat/chat/protocol"
)

// AttachmentConfig turns on attachments and sets their limits. Attachments
// are on when Blobs is set and the Store has the AttachmentStore role.
type AttachmentConfig struct {
	// Blobs keeps the files' bytes: blob/file (a directory, e.g. next to
	// the SQLite file), postgres.Store.Blobs, or blob/cloud (S3, GCS,
	// Azure). Default: none, attachments off.
	Blobs BlobStore
	// Types lists the media types allowed, as content sniffing decides
	// them (never the client's claim). Default: image/jpeg, image/png,
	// image/gif, application/pdf and text/plain. Images (jpeg, png, gif)
	// are decoded and re-encoded, which drops their metadata (EXIF, GPS)
	// and anything hidden after the pixels; a GIF becomes a PNG of its
	// first frame.
	Types []string
	// MaxFileSize caps one file, in bytes; a file over MaxMessageSize is
	// refused too (it could never be sent). Default 10 MiB.
	MaxFileSize int64
	// MaxMessageSize caps the files of one message together. Default 25 MiB.
	MaxMessageSize int64
	// MaxDailyBytes caps what one visitor (or operator) uploads in 24
	// hours. Default 100 MiB.
	MaxDailyBytes int64
	// MaxPixels caps an image's width times height, so a small file cannot
	// decode into gigabytes. Default 40 million.
	MaxPixels int
	// Scan, if set, sees every file after the checks above and before it
	// is stored or shown (an antivirus): an error refuses the upload with
	// ErrRejected. Default: none.
	Scan func(ctx context.Context, a *Attachment, content io.Reader) error
	// UnsentTTL is how long an upload may wait to be sent with a message
	// before it is deleted. Default 24 hours.
	UnsentTTL time.Duration
	// LinkTTL is how long the signed links to attachments in outgoing mail
	// stay valid. Default 30 days.
	LinkTTL time.Duration
	// SweepInterval is how often uploads never sent and blobs no metadata
	// names are deleted. Default 10 minutes.
	SweepInterval time.Duration
	// UploadTimeout bounds how long one upload's body may take to arrive,
	// from the moment it holds an upload slot; a client that sends its
	// headers and then nothing (or a trickle) gets 408 and the slot back.
	// It replaces the shop server's ReadTimeout for the upload's body.
	// Default 2 minutes: 10 MiB at about 90 KB/s.
	UploadTimeout time.Duration
}

const (
	// maxConcurrentUploads bounds the uploads a Server handles at once:
	// each holds up to MaxFileSize (and a decoded image) in memory.
	maxConcurrentUploads = 8
	// maxUploadsPerUploader bounds the slots one visitor (or operator)
	// holds at once, so that one of them cannot hold every slot; their
	// further uploads wait for a turn, up to one message's worth
	// (MaxAttachmentsPerMessage) in all: the widget and the console send a
	// message's files at once.
	maxUploadsPerUploader = 2
	// maxConcurrentDecodes bounds the images being decoded at once, over
	// HTTP uploads and mailed files together: a decode of MaxPixels takes
	// up to 8 bytes a pixel (320 MB at the default) and a core.
	maxConcurrentDecodes = 2
)

var defaultAttachmentTypes = []string{"image/jpeg", "image/png", "image/gif", "application/pdf", "text/plain"}

// attachments is the Server's attachment machinery; nil when off.
type attachments struct {
	cfg     AttachmentConfig
	store   AttachmentStore
	blobs   BlobStore
	allowed map[string]bool
	slots   chan struct{} // maxConcurrentUploads
	decodes chan struct{} // maxConcurrentDecodes

	mu     sync.Mutex
	active map[string]*uploaderTurns // by uploader id, while one uploads

	testHookWaiting func() // called when an upload starts waiting for a turn
}

// uploaderTurns are one uploader's turns at the upload slots.
type uploaderTurns struct {
	turns chan struct{} // maxUploadsPerUploader
	users int           // uploads holding or waiting for a turn
}

func newAttachments(cfg AttachmentConfig, st *checked) (*attachments, error) {
	if cfg.Blobs == nil {
		return nil, nil
	}
	if st.attachments == nil {
		return nil, fmt.Errorf("chat: Config.Attachments.Blobs is set: %w", st.missing("attachments"))
	}
	as := AttachmentStore(st)
	defaultTo(&cfg.MaxFileSize, 10<<20)
	defaultTo(&cfg.MaxMessageSize, 25<<20)
	defaultTo(&cfg.MaxDailyBytes, 100<<20)
	defaultTo(&cfg.MaxPixels, 40_000_000)
	defaultTo(&cfg.UnsentTTL, 24*time.Hour)
	defaultTo(&cfg.LinkTTL, 30*24*time.Hour)
	defaultTo(&cfg.SweepInterval, 10*time.Minute)
	defaultTo(&cfg.UploadTimeout, 2*time.Minute)
	if cfg.Types == nil {
		cfg.Types = defaultAttachmentTypes
	}
	a := &attachments{
		cfg: cfg, store: as, blobs: cfg.Blobs, allowed: map[string]bool{},
		slots:   make(chan struct{}, maxConcurrentUploads),
		decodes: make(chan struct{}, maxConcurrentDecodes),
		active:  map[string]*uploaderTurns{},
	}
	for _, t := range cfg.Types {
		a.allowed[strings.ToLower(t)] = true
	}
	return a, nil
}

// maxFile is the largest file an upload takes, 0 with attachments off: the
// smaller of MaxFileSize and MaxMessageSize (a larger one could never be
// sent).
func (at *attachments) maxFile() int64 {
	if at == nil {
		return 0
	}
	return min(at.cfg.MaxFileSize, at.cfg.MaxMessageSize)
}

func (at *attachments) tooLarge() error {
	return &publicError{sentinel: errTooLarge, msg: fmt.Sprintf("file is larger than %d MiB", at.maxFile()>>20)}
}

// acquire takes an upload slot for owner: first one of owner's
// maxUploadsPerUploader turns, waiting for it while ctx allows, then one of
// the maxConcurrentUploads slots. It refuses with errTooManyUploads past
// MaxAttachmentsPerMessage of owner's uploads holding or waiting, and with
// errUploadsBusy when every slot is taken. release gives both back.
func (at *attachments) acquire(ctx context.Context, owner string) (release func(), err error) {
	at.mu.Lock()
	u := at.active[owner]
	if u == nil {
		u = &uploaderTurns{turns: make(chan struct{}, maxUploadsPerUploader)}
		at.active[owner] = u
	}
	if u.users >= MaxAttachmentsPerMessage {
		at.mu.Unlock()
		return nil, &publicError{sentinel: errTooManyUploads, msg: fmt.Sprintf("at most %d uploads at once; wait for one to finish", MaxAttachmentsPerMessage)}
	}
	u.users++
	at.mu.Unlock()
	leave := func() {
		at.mu.Lock()
		if u.users--; u.users == 0 {
			delete(at.active, owner) // every turn is back: nothing of it is held
		}
		at.mu.Unlock()
	}
	select {
	case u.turns <- struct{}{}:
	default:
		if at.testHookWaiting != nil {
			at.testHookWaiting()
		}
		select {
		case u.turns <- struct{}{}:
		case <-ctx.Done():
			leave()
			return nil, fmt.Errorf("chat: waiting for an upload turn: %w", context.Cause(ctx))
		}
	}
	select {
	case at.slots <- struct{}{}:
	default:
		<-u.turns
		leave()
		return nil, errUploadsBusy
	}
	return func() {
		<-at.slots
		<-u.turns
		leave()
	}, nil
}

// uploader is who calls an attachment endpoint: a visitor (by cookie) or,
// with ?role=operator, an operator (by the shop's auth), exactly as the
// sockets authenticate them.
type uploader struct {
	visitor *Visitor
	op      *Operator
}

func (u uploader) id() string {
	if u.visitor != nil {
		return u.visitor.ID
	}
	return u.op.ID
}

func (s *Server) uploaderOf(r *http.Request) (uploader, error) {
	if r.URL.Query().Get("role") == protocol.RoleOperator {
		op, err := s.cfg.Operators(r)
		if err != nil || op == nil || op.ID == "" {
			return uploader{}, ErrUnauthorized
		}
		return uploader{op: op}, nil
	}
	v, err := s.visitorFromRequest(r)
	if err != nil {
		return uploader{}, err
	}
	return uploader{visitor: v}, nil
}

// httpError answers an attachment request with err's status and a short
// text that leaks nothing internal.
func (s *Server) httpError(w http.ResponseWriter, err error, what string) {
	var pe *publicError
	msg := ""
	if errors.As(err, &pe) {
		msg = pe.msg
	}
	switch {
	case errors.Is(err, ErrUnauthorized):
		http.Error(w, "no valid visitor token or operator login", http.StatusUnauthorized)
	case errors.Is(err, ErrNotFound), errors.Is(err, ErrForbidden):
		http.Error(w, "attachment not found", http.StatusNotFound) // not ours and unknown look alike
	case errors.Is(err, errUploadsBusy):
		w.Header().Set("Retry-After", "2")
		http.Error(w, "too many uploads at once; try again", http.StatusServiceUnavailable)
	case errors.Is(err, ErrRateLimited):
		if errors.Is(err, errTooManyUploads) {
			w.Header().Set("Retry-After", "2")
		}
		http.Error(w, cmpOr(msg, "too many uploads; try again later"), http.StatusTooManyRequests)
	case errors.Is(err, errUploadTimeout), errors.Is(err, context.Canceled):
		// The client stalled, or went: nothing to log.
		http.Error(w, "the upload took too long", http.StatusRequestTimeout)
	case errors.Is(err, errTooLarge):
		http.Error(w, msg, http.StatusRequestEntityTooLarge)
	case errors.Is(err, ErrRejected):
		http.Error(w, cmpOr(msg, "file refused"), http.StatusUnsupportedMediaType)
	case errors.Is(err, ErrInvalid):
		http.Error(w, cmpOr(msg, "invalid request"), http.StatusBadRequest)
	default:
		s.logErr(what, err)
		http.Error(w, "chat unavailable", http.StatusServiceUnavailable)
	}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

var (
	errTooLarge       = fmt.Errorf("%w: too large", ErrRejected)
	errTooManyUploads = fmt.Errorf("%w: too many uploads at once by one uploader", ErrRateLimited)
	errUploadsBusy    = errors.New("chat: every upload slot is taken")
	errUploadTimeout  = errors.New("chat: the upload took longer than UploadTimeout")
)

// ImageTooLargeError refuses an image whose header declares more pixels
// than AttachmentConfig.MaxPixels (a decompression bomb: a small file that
// would decode into gigabytes). It is found from the header alone, before
// any pixel is decoded or allocated. It wraps ErrRejected.
type ImageTooLargeError struct {
	Width, Height int // as the header declares them
	MaxPixels     int
}

func (e *ImageTooLargeError) Error() string {
	return fmt.Sprintf("chat: image of %dx%d pixels is over the %d pixel cap", e.Width, e.Height, e.MaxPixels)
}

func (e *ImageTooLargeError) Unwrap() error { return ErrRejected }

// serveUpload takes one file as the raw request body (the name in ?name=)
// and answers with its metadata as a protocol.Attachment. The file is not
// shown to anyone until a message names it. Every refusal stops the
// reading of the body (refuse.Close); one for size comes from
// Content-Length, before a byte of the body is read, when the client sends
// it.
func (s *Server) serveUpload(w http.ResponseWriter, r *http.Request) {
	at := s.attach
	if at == nil {
		http.NotFound(w, r)
		return
	}
	fail := func(err error) {
		refuse.Close(w, r)
		s.httpError(w, err, "upload")
	}
	if !s.sameOriginRequest(r) {
		refuse.Error(w, r, "cross-site upload refused", http.StatusForbidden)
		return
	}
	if r.ContentLength > at.maxFile() {
		fail(at.tooLarge())
		return
	}
	u, err := s.uploaderOf(r)
	if err != nil {
		fail(err)
		return
	}
	a, err := s.uploadBody(w, r, u)
	if err != nil {
		fail(err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	json.NewEncoder(w).Encode(s.attachmentFrame(a))
}

// uploadBody reads and stores r's body for u while holding an upload slot,
// which is free again before the answer is written. UploadTimeout starts
// once the slot is held: a wait for u's turn is bounded by the client (its
// request's context) and by the number of u's uploads that may wait.
func (s *Server) uploadBody(w http.ResponseWriter, r *http.Request, u uploader) (*Attachment, error) {
	at := s.attach
	release, err := at.acquire(r.Context(), u.id())
	if err != nil {
		return nil, err
	}
	defer release()
	// A stalled body fails its read at the deadline; the context bounds the
	// rest (a wait for a decode slot, the store), and a connection without
	// deadlines (ErrNotSupported) too, at its next read.
	ctx, cancel := context.WithTimeoutCause(r.Context(), at.cfg.UploadTimeout, errUploadTimeout)
	defer cancel()
	http.NewResponseController(w).SetReadDeadline(time.Now().Add(at.cfg.UploadTimeout))
	return s.upload(ctx, u.id(), r.URL.Query().Get("name"), http.MaxBytesReader(w, r.Body, at.maxFile()))
}

// upload checks, cleans and stores one file for owner: the one safety path
// of every attachment, from the widget, the console or an email.
func (s *Server) upload(ctx context.Context, owner, name string, body io.Reader) (*Attachment, error) {
	at := s.attach
	now := s.now()
	used, err := at.store.UploadedBytes(ctx, owner, now.Add(-24*time.Hour))
	if err != nil {
		return nil, err
	}
	if used >= at.cfg.MaxDailyBytes {
		return nil, userErr(ErrRateLimited, "daily upload limit of %d MiB reached", at.cfg.MaxDailyBytes>>20)
	}
	data, err := io.ReadAll(io.LimitReader(body, at.maxFile()+1))
	if _, over := errors.AsType[*http.MaxBytesError](err); over {
		return nil, at.tooLarge()
	}
	if err != nil && (errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(context.Cause(ctx), errUploadTimeout)) {
		return nil, fmt.Errorf("%w: %w", errUploadTimeout, err)
	}
	if err != nil {
		return nil, userErr(ErrInvalid, "upload interrupted")
	}
	if int64(len(data)) > at.maxFile() {
		return nil, at.tooLarge()
	}
	if used+int64(len(data)) > at.cfg.MaxDailyBytes {
		return nil, userErr(ErrRateLimited, "daily upload limit of %d MiB reached", at.cfg.MaxDailyBytes>>20)
	}
	a := &Attachment{ID: rand.Text(), OwnerID: owner, Name: cleanFileName(name), CreatedAt: now}
	if data, err = at.sanitize(ctx, a, data); err != nil {
		return nil, err
	}
	sum := sha256.Sum256(data)
	a.SHA256, a.Size = hex.EncodeToString(sum[:]), int64(len(data))
	if at.cfg.Scan != nil {
		if err := at.cfg.Scan(ctx, a, bytes.NewReader(data)); err != nil {
			s.log.Info("attachment refused by scan", "owner", owner, "err", err)
			return nil, userErr(ErrRejected, "file refused by the scan")
		}
	}
	if err := at.blobs.Put(ctx, a.ID, bytes.NewReader(data)); err != nil {
		return nil, err
	}
	if err := at.store.PutAttachment(ctx, a); err != nil {
		at.blobs.Delete(context.WithoutCancel(ctx), a.ID) // else the sweep finds it
		return nil, err
	}
	s.add("attachments_uploaded_total", 1)
	return a, nil
}

// sanitize decides a's type by sniffing data, refuses what the allow-list
// does not name, and re-encodes images, at most maxConcurrentDecodes at
// once (waiting for a turn as long as ctx allows). It returns the bytes to
// store; a's name gets the extension of the sniffed type.
func (at *attachments) sanitize(ctx context.Context, a *Attachment, data []byte) ([]byte, error) {
	sniffed, _, _ := mime.ParseMediaType(http.DetectContentType(data))
	if sniffed == "text/plain" && !utf8.Valid(data) {
		sniffed = "application/octet-stream"
	}
	if !at.allowed[sniffed] {
		return nil, userErr(ErrRejected, "files of type %s are not accepted", sniffed)
	}
	a.Type = sniffed
	if sniffed == "text/plain" {
		a.Type = "text/plain; charset=utf-8"
	}
	if !strings.HasPrefix(sniffed, "image/") {
		a.Name = nameForType(a.Name, a.Type)
		return data, nil
	}
	cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil || "image/"+format != sniffed {
		return nil, userErr(ErrRejected, "the image does not decode")
	}
	if cfg.Width <= 0 || cfg.Height <= 0 || cfg.Width > at.cfg.MaxPixels/max(cfg.Height, 1) {
		return nil, &publicError{
			sentinel: &ImageTooLargeError{Width: cfg.Width, Height: cfg.Height, MaxPixels: at.cfg.MaxPixels},
			msg:      fmt.Sprintf("the image is larger than %d pixels", at.cfg.MaxPixels),
		}
	}
	select {
	case at.decodes <- struct{}{}:
		defer func() { <-at.decodes }()
	case <-ctx.Done():
		return nil, fmt.Errorf("chat: waiting to decode an image: %w", context.Cause(ctx))
	}
	img, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, userErr(ErrRejected, "the image does not decode")
	}
	if format == "jpeg" {
		img = orient(img, jpegOrientation(data))
	}
	var out bytes.Buffer
	if format == "jpeg" {
		err = jpeg.Encode(&out, img, &jpeg.Options{Quality: 90})
	} else { // png, and a gif's first frame as png
		a.Type = "image/png"
		err = png.Encode(&out, img)
	}
	if err != nil {
		return nil, fmt.Errorf("chat: re-encode image: %w", err)
	}
	b := img.Bounds()
	a.Width, a.Height = b.Dx(), b.Dy()
	a.Name = nameForType(a.Name, a.Type)
	return out.Bytes(), nil
}

// typeExtensions names the extension a stored file's name gets for its
// sniffed type; any other type gets ".bin". Why: a browser or desktop that
// opens a download by its name's extension must never see one the client
// chose (a ".html", ".svg" or ".exe" on a file sniffed as text).
var typeExtensions = map[string]string{
	"image/jpeg": ".jpg", "image/png": ".png", "image/gif": ".gif",
	"application/pdf": ".pdf", "text/plain": ".txt",
}

// nameForType replaces name's extension with mediaType's.
func nameForType(name, mediaType string) string {
	base, _, _ := mime.ParseMediaType(mediaType)
	ext, ok := typeExtensions[base]
	if !ok {
		ext = ".bin"
	}
	return strings.TrimSuffix(name, path.Ext(name)) + ext
}

// cleanFileName keeps a display name: no directories, no control or
// formatting characters, at most 120 bytes of valid UTF-8.
func cleanFileName(name string) string {
	name = strings.ToValidUTF8(name, "")
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	name = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || r == '"' {
			return -1
		}
		return r
	}, name)
	name = strings.TrimSpace(name)
	for len(name) > 120 {
		_, size := utf8.DecodeLastRuneInString(name)
		name = name[:len(name)-size]
	}
	if name == "" || name == "." || name == ".." {
		name = "file"
	}
	return name
}

// serveDiscard deletes an upload not yet sent, for a client whose user
// removed it before sending (a cancel). Only its uploader may.
func (s *Server) serveDiscard(w http.ResponseWriter, r *http.Request) {
	if s.attach == nil {
		http.NotFound(w, r)
		return
	}
	if !s.sameOriginRequest(r) {
		http.Error(w, "cross-site request refused", http.StatusForbidden)
		return
	}
	u, err := s.uploaderOf(r)
	if err != nil {
		s.httpError(w, err, "discard upload")
		return
	}
	ctx := r.Context()
	a, err := s.attach.store.Attachment(ctx, r.PathValue("id"))
	if err == nil && (a.OwnerID != u.id() || a.ConversationID != "") {
		err = ErrNotFound // sent ones stay with their message
	}
	if err == nil {
		err = s.attach.store.DeleteAttachments(ctx, []string{a.ID})
	}
	if err == nil {
		err = s.attach.blobs.Delete(ctx, a.ID)
	}
	if err != nil {
		s.httpError(w, err, "discard upload")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
