package chat

import (
	"context"
	"crypto/hmac"
	"io"
	"mime"
	"net/http"
	"strconv"
	"time"

	"github.com/shopchat/chat/protocol"
)

// attachmentCSP is sent with every attachment: nothing in it may run or
// load anything, whatever a browser makes of it.
const attachmentCSP = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox"

// serveDownload serves an attachment to who may read it: its uploader
// while it is unsent; once sent, whoever may read its conversation (the
// conversation's visitor, unless it came with an internal note, and every
// operator), exactly as messages are; or anyone holding a signed link from
// a mail, until it expires. Everything else is "not found".
func (s *Server) serveDownload(w http.ResponseWriter, r *http.Request) {
	at := s.attach
	if at == nil {
		http.NotFound(w, r)
		return
	}
	ctx := r.Context()
	id := r.PathValue("id")
	a, err := at.store.Attachment(ctx, id)
	if err == nil {
		err = s.mayDownload(r, a)
	}
	if err != nil {
		s.httpError(w, err, "download")
		return
	}
	body, size, err := at.blobs.Get(ctx, a.ID)
	if err != nil {
		s.httpError(w, err, "download")
		return
	}
	defer body.Close()
	h := w.Header()
	h.Set("Content-Type", a.Type)
	h.Set("Content-Length", strconv.FormatInt(size, 10))
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", attachmentCSP)
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	h.Set("Cache-Control", "private, max-age=3600")
	h.Set("ETag", `"`+a.SHA256+`"`)
	disposition := "attachment"
	if a.IsImage() && r.URL.Query().Get("download") == "" {
		disposition = "inline"
	}
	// The name's extension is the sniffed type's whatever was stored (files
	// uploaded before names were given it, a custom store's metadata).
	h.Set("Content-Disposition", mime.FormatMediaType(disposition, map[string]string{"filename": nameForType(a.Name, a.Type)}))
	if r.Header.Get("If-None-Match") == `"`+a.SHA256+`"` {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	if r.Method == http.MethodHead {
		return // the headers only: net/http would read the whole blob to discard it
	}
	if _, err := io.Copy(w, body); err != nil {
		s.log.Debug("download interrupted", "attachment", a.ID, "err", err)
	}
}

func (s *Server) mayDownload(r *http.Request, a *Attachment) error {
	q := r.URL.Query()
	if q.Has("sig") {
		if s.validLink(a.ID, q.Get("exp"), q.Get("sig")) {
			return nil
		}
		return ErrNotFound
	}
	u, err := s.uploaderOf(r)
	if err != nil {
		return err
	}
	return s.mayRead(r.Context(), u, a)
}

// mayRead decides whether u may read attachment a; ErrNotFound if not.
func (s *Server) mayRead(ctx context.Context, u uploader, a *Attachment) error {
	if a.ConversationID == "" {
		if a.OwnerID == u.id() {
			return nil
		}
		return ErrNotFound
	}
	if u.visitor == nil {
		return nil // operators read every conversation (the team shares its history)
	}
	c, err := s.store.Conversation(ctx, a.ConversationID)
	if err != nil {
		return err
	}
	if c.VisitorID != u.visitor.ID {
		return ErrNotFound
	}
	ms, err := s.store.Messages(ctx, MessageQuery{ConversationID: c.ID, AfterSeq: a.Seq - 1, Limit: 1})
	if err != nil {
		return err
	}
	if len(ms) == 0 || ms[0].Seq != a.Seq || !ms[0].Kind.VisibleToVisitor() {
		return ErrNotFound // an internal note's attachment
	}
	return nil
}

// AttachmentLink returns a signed path, relative to Config.Path, that lets
// whoever holds it download attachment id until expires: the links in
// outgoing mail, which must work without the visitor's cookie.
func (s *Server) AttachmentLink(id string, expires time.Time) string {
	exp := strconv.FormatInt(expires.Unix(), 10)
	return "attachments/" + id + "?exp=" + exp + "&sig=" + s.tokens.mac("attachment", id+"."+exp)
}

func (s *Server) validLink(id, exp, sig string) bool {
	unix, err := strconv.ParseInt(exp, 10, 64)
	if err != nil || s.now().Unix() > unix {
		return false
	}
	return hmac.Equal([]byte(sig), []byte(s.tokens.mac("attachment", id+"."+exp)))
}

// attachmentFrame is an attachment as clients see it.
func (s *Server) attachmentFrame(a *Attachment) protocol.Attachment {
	return protocol.Attachment{
		ID: a.ID, Name: a.Name, Type: a.Type, Size: a.Size, Width: a.Width, Height: a.Height,
		URL: s.cfg.Path + "attachments/" + a.ID,
	}
}
