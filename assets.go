package chat

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"net/url"
	"path"
	"strings"
	"sync"

	"github.com/shopchat/chat/web"
)

// asset is one embedded file, ready to serve plain or gzipped.
type asset struct {
	body, gz    []byte
	etag, ctype string
}

type assets struct {
	widget  *asset
	console map[string]*asset
}

var (
	assetsOnce   sync.Once
	sharedAssets *assets
	assetsErr    error
)

// loadAssets prepares the embedded front ends once per process: they are
// the same for every Server, and compressing them is not free.
func loadAssets() (*assets, error) {
	assetsOnce.Do(func() { sharedAssets, assetsErr = buildAssets() })
	return sharedAssets, assetsErr
}

// buildAssets prepares the embedded front ends: the widget script with its
// stylesheet inlined (it lives in a Shadow DOM), and the console's files.
func buildAssets() (*assets, error) {
	js, err := fs.ReadFile(web.FS, "widget.js")
	if err != nil {
		return nil, err
	}
	css, err := fs.ReadFile(web.FS, "widget.css")
	if err != nil {
		return nil, err
	}
	cssJS, _ := json.Marshal(string(css))
	js = bytes.Replace(js, []byte(`"__SHOPCHAT_CSS__"`), cssJS, 1)
	a := &assets{widget: newAsset("widget.js", js), console: map[string]*asset{}}
	err = fs.WalkDir(web.FS, "console", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(web.FS, p)
		if err != nil {
			return err
		}
		a.console[strings.TrimPrefix(p, "console/")] = newAsset(p, b)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("chat: console assets: %w", err)
	}
	if a.console["index.html"] == nil {
		return nil, errors.New("chat: console assets: index.html missing")
	}
	return a, nil
}

func newAsset(name string, body []byte) *asset {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	zw.Write(body)
	zw.Close()
	sum := sha256.Sum256(body)
	ctype := mime.TypeByExtension(path.Ext(name))
	if ctype == "" {
		ctype = "application/octet-stream"
	}
	return &asset{body: body, gz: buf.Bytes(), etag: `"` + hex.EncodeToString(sum[:8]) + `"`, ctype: ctype}
}

// WidgetSize reports the widget's script (with its stylesheet) in bytes,
// raw and gzipped: the budget is 30 KB gzipped.
func (s *Server) WidgetSize() (raw, gzipped int) {
	return len(s.assets.widget.body), len(s.assets.widget.gz)
}

func (a *asset) serve(w http.ResponseWriter, r *http.Request, cache string) {
	h := w.Header()
	h.Set("Content-Type", a.ctype)
	h.Set("ETag", a.etag)
	h.Set("Cache-Control", cache)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Add("Vary", "Accept-Encoding")
	if r.Header.Get("If-None-Match") == a.etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	body := a.body
	if strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
		h.Set("Content-Encoding", "gzip")
		body = a.gz
	}
	w.Write(body)
}

// serveWidget serves the one script a shop puts in its layout.
func (s *Server) serveWidget(w http.ResponseWriter, r *http.Request) {
	s.assets.widget.serve(w, r, "public, max-age=300")
}

// serveConsole serves the operator console to operators the shop's auth
// accepts.
func (s *Server) serveConsole(w http.ResponseWriter, r *http.Request) {
	file := r.PathValue("file")
	if file == "" {
		file = "index.html"
	}
	a := s.assets.console[file]
	if a == nil {
		http.NotFound(w, r)
		return
	}
	if op, err := s.cfg.Operators(r); err != nil || op == nil {
		if s.cfg.ConsoleLoginURL != "" && file == "index.html" {
			http.Redirect(w, r, s.cfg.ConsoleLoginURL+"?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusUnauthorized)
		w.Write([]byte("Operator login required.\n"))
		return
	}
	w.Header().Set("Content-Security-Policy", "default-src 'self'; img-src 'self' https: http: data:; connect-src 'self'; style-src 'self'; script-src 'self'; frame-ancestors 'none'")
	w.Header().Set("X-Frame-Options", "DENY")
	w.Header().Set("Referrer-Policy", "same-origin")
	a.serve(w, r, "no-cache")
}
