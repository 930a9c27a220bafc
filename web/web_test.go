package web

import (
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

func TestHandler(t *testing.T) {
	h := Handler()
	cases := []struct {
		name, method, path string
		code               int
		ctype              string
	}{
		{"index at the root", "GET", "/", 200, "text/html; charset=utf-8"},
		{"index by name", "GET", "/index.html", 200, "text/html; charset=utf-8"},
		{"module script", "GET", "/assets/app.js", 200, "text/javascript; charset=utf-8"},
		{"page module", "GET", "/assets/pages/logs.js", 200, "text/javascript; charset=utf-8"},
		{"style", "GET", "/assets/style.css", 200, "text/css; charset=utf-8"},
		{"icon", "GET", "/assets/favicon.svg", 200, "image/svg+xml"},
		{"head", "HEAD", "/assets/app.js", 200, "text/javascript; charset=utf-8"},
		{"missing asset", "GET", "/assets/nope.js", 404, "text/plain; charset=utf-8"},
		{"outside the assets", "GET", "/state", 404, "text/plain; charset=utf-8"},
		{"escape attempt", "GET", "/assets/../index.html", 404, "text/plain; charset=utf-8"},
		{"write", "POST", "/", 405, "text/plain; charset=utf-8"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(c.method, c.path, nil))
			if rec.Code != c.code || rec.Header().Get("Content-Type") != c.ctype {
				t.Errorf("%s %s = %d %q; want %d %q", c.method, c.path, rec.Code, rec.Header().Get("Content-Type"), c.code, c.ctype)
			}
		})
	}
}

// TestNoExternalURLs keeps the console working offline: nothing it loads
// or links to may live on another host.
func TestNoExternalURLs(t *testing.T) {
	external := regexp.MustCompile(`(?i)(src|href)\s*=\s*["']?(https?:)?//|@import\s+url\(\s*["']?(https?:)?//|\bfrom\s+["'](https?:)?//|\bimport\(\s*["'](https?:)?//`)
	err := fs.WalkDir(FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(FS(), p)
		if err != nil {
			return err
		}
		if m := external.Find(b); m != nil {
			t.Errorf("%s refers to another host: %q", p, m)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestNoInlineStyleOrScript keeps the pages within their content security
// policy, which forbids inline styles and scripts.
func TestNoInlineStyleOrScript(t *testing.T) {
	inline := regexp.MustCompile(`(?i)\sstyle\s*=|\son[a-z]+\s*=\s*["']|<script>|javascript:`)
	err := fs.WalkDir(FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !(strings.HasSuffix(p, ".js") || strings.HasSuffix(p, ".html")) {
			return err
		}
		b, err := fs.ReadFile(FS(), p)
		if err != nil {
			return err
		}
		if m := inline.Find(b); m != nil {
			t.Errorf("%s has inline style or script, which the console's policy blocks: %q", p, m)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestIndexPolicy(t *testing.T) {
	rec := httptest.NewRecorder()
	Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	if csp := rec.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "style-src 'self'") || !strings.Contains(csp, "script-src 'self'") {
		t.Errorf("Content-Security-Policy = %q; want scripts and styles from the console only", csp)
	}
}
