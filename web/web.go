package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

//go:embed static
var static embed.FS

// FS returns the console's files: index.html at the root and the assets it
// loads under assets/. The files are read-only and the same for the life
// of the binary.
func FS() fs.FS {
	sub, err := fs.Sub(static, "static")
	if err != nil {
		// "static" is a literal that go:embed guarantees exists.
		panic(err)
	}
	return sub
}

// IndexPath and AssetsPrefix are the URL paths Handler serves: the console's
// document and, below the prefix, the files it loads.
const (
	IndexPath    = "/"
	AssetsPrefix = "/assets/"
)

// contentSecurityPolicy keeps the console to its own files: no inline
// script or style, no other origin, not framed. Bars and graphs are SVG
// attributes, never style attributes, so they pass it.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'none'"

// file is one console file ready to serve.
type file struct {
	body  []byte
	ctype string
	etag  string
}

// Handler serves the console. GET and HEAD of IndexPath (and of
// "/index.html") answer index.html; of AssetsPrefix+name the asset name.
// Any other path is 404 and any other method 405, with a plain-text body.
//
// Every answer has a strong ETag (a hash of the content) and
// "Cache-Control: no-cache", so a browser revalidates cheaply (304) and
// picks up a new binary's console at once. The handler holds its files in
// memory and is safe for concurrent use.
func Handler() http.Handler {
	h := &handler{files: map[string]file{}}
	root := FS()
	_ = fs.WalkDir(root, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(root, p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		h.files["/"+p] = file{body: b, ctype: contentType(p), etag: `"` + hex.EncodeToString(sum[:12]) + `"`}
		return nil
	})
	return h
}

type handler struct {
	files map[string]file // by URL path: "/index.html", "/assets/app.js"
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method "+r.Method+" not allowed; use GET", http.StatusMethodNotAllowed)
		return
	}
	p := r.URL.Path
	if p == IndexPath {
		p = "/index.html"
	}
	f, ok := h.files[p]
	if !ok || (p != "/index.html" && !strings.HasPrefix(p, AssetsPrefix)) {
		http.Error(w, "no console file at "+r.URL.Path, http.StatusNotFound)
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", f.ctype)
	hd.Set("ETag", f.etag)
	hd.Set("Cache-Control", "no-cache")
	hd.Set("X-Content-Type-Options", "nosniff")
	if p == "/index.html" {
		hd.Set("Content-Security-Policy", contentSecurityPolicy)
		hd.Set("Referrer-Policy", "no-referrer")
	}
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(f.body))
}

// contentType is fixed per extension rather than read from the system's
// MIME tables: a browser refuses a module script that is not served as
// JavaScript.
func contentType(p string) string {
	switch path.Ext(p) {
	case ".html":
		return "text/html; charset=utf-8"
	case ".js":
		return "text/javascript; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	case ".svg":
		return "image/svg+xml"
	case ".json":
		return "application/json"
	case ".png":
		return "image/png"
	}
	return "application/octet-stream"
}
