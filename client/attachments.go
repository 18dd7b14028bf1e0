package client

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/shopchat/chat/protocol"
)

// Upload sends a file (name is for display; the server decides its type by
// its content) and returns its metadata. The file is seen by nobody until
// a message names it: pass its ID in Outgoing.Attachments. Uploads use the
// socket's authentication: the visitor's cookie, or for an operator the
// Options' HTTP client and headers (the shop's login) with ?role=operator.
// A refused file (type, size, scan) is an *Error with Code "invalid",
// "too_large" or "rate_limited"; an upload the server stopped waiting for
// (too slow: HTTP 408) or could not store has Code "unavailable", worth a
// retry.
func (c *Conn) Upload(ctx context.Context, name string, content io.Reader) (protocol.Attachment, error) {
	if c.role == protocol.RoleVisitor && !c.hasToken() {
		if err := c.postSession(ctx); err != nil {
			return protocol.Attachment{}, err
		}
	}
	q := url.Values{"name": {name}}
	if c.role == protocol.RoleOperator {
		q.Set("role", protocol.RoleOperator)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.root+"attachments?"+q.Encode(), content)
	if err != nil {
		return protocol.Attachment{}, fmt.Errorf("client: upload: %w", err)
	}
	req.Header = c.header.Clone()
	resp, err := c.hc.Do(req)
	if err != nil {
		return protocol.Attachment{}, fmt.Errorf("client: upload: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusCreated {
		code := map[int]string{http.StatusRequestEntityTooLarge: "too_large", http.StatusTooManyRequests: protocol.CodeRateLimited,
			http.StatusUnauthorized: "unauthorized", http.StatusForbidden: protocol.CodeForbidden,
			http.StatusRequestTimeout: protocol.CodeUnavailable, http.StatusServiceUnavailable: protocol.CodeUnavailable}[resp.StatusCode]
		if code == "" {
			code = protocol.CodeInvalid
		}
		return protocol.Attachment{}, &Error{Code: code, Message: strings.TrimSpace(string(body))}
	}
	var a protocol.Attachment
	if err := json.Unmarshal(body, &a); err != nil {
		return protocol.Attachment{}, fmt.Errorf("client: upload: %w", err)
	}
	return a, nil
}

// Download returns the content of an attachment this connection may read
// (a.URL, with the socket's authentication). The caller closes it.
func (c *Conn) Download(ctx context.Context, a protocol.Attachment) (io.ReadCloser, error) {
	u, err := url.Parse(c.root)
	if err != nil {
		return nil, err
	}
	ref := &url.URL{Path: a.URL}
	if c.role == protocol.RoleOperator {
		ref.RawQuery = "role=" + protocol.RoleOperator
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.ResolveReference(ref).String(), nil)
	if err != nil {
		return nil, fmt.Errorf("client: download: %w", err)
	}
	req.Header = c.header.Clone()
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("client: download: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, &Error{Code: "not_found", Message: fmt.Sprintf("download %s: HTTP %d", a.ID, resp.StatusCode)}
	}
	return resp.Body, nil
}
