package files

import (
	"context"
	"encoding/json"
	"io"
	"mime"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func setup(t *testing.T) (*httptest.Server, string) {
	t.Helper()
	base := t.TempDir()
	root := filepath.Join(base, "sandboxes")
	sb := filepath.Join(root, "fw", "t1")
	os.MkdirAll(sb, 0o755)
	os.WriteFile(filepath.Join(sb, "stdout"), []byte("hello world\n"), 0o644)
	os.WriteFile(filepath.Join(base, "secret"), []byte("s3cret"), 0o644)
	os.Symlink(filepath.Join(base, "secret"), filepath.Join(sb, "evil"))
	os.Symlink("stdout", filepath.Join(sb, "good"))
	s, err := New(root, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Routes())
	t.Cleanup(srv.Close)
	return srv, root
}

func get(t *testing.T, srv *httptest.Server, path string, q url.Values) (int, []byte) {
	t.Helper()
	resp, b := do(t, srv, path, q)
	return resp.StatusCode, b
}

// do sends one GET and returns the response (body read) and its body. A
// request the handler never answers fails the test instead of hanging it.
func do(t *testing.T, srv *httptest.Server, path string, q url.Values) (*http.Response, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+path+"?"+q.Encode(), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatalf("GET %s?%s: %v", path, q.Encode(), err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s?%s: reading body: %v", path, q.Encode(), err)
	}
	return resp, b
}

func TestBrowse(t *testing.T) {
	srv, root := setup(t)
	code, body := get(t, srv, "/files/browse", url.Values{"path": {filepath.Join(root, "fw", "t1")}})
	if code != 200 {
		t.Fatalf("browse = %d %s", code, body)
	}
	var ents []Entry
	if err := json.Unmarshal(body, &ents); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range ents {
		if e.Path == filepath.Join(root, "fw", "t1", "stdout") {
			found = true
			if e.Size != 12 || e.Mode != "-rw-r--r--" || e.Nlink != 1 || e.UID == "" || e.Mtime == 0 {
				t.Errorf("entry = %+v", e)
			}
		}
	}
	if !found || len(ents) != 3 {
		t.Errorf("browse listed %+v; want stdout, evil, good", ents)
	}
	// Relative paths work too.
	if code, _ := get(t, srv, "/files/browse", url.Values{"path": {"fw"}}); code != 200 {
		t.Errorf("browse relative = %d", code)
	}
}

func TestRead(t *testing.T) {
	srv, root := setup(t)
	p := filepath.Join(root, "fw", "t1", "stdout")
	tests := []struct {
		name   string
		q      url.Values
		code   int
		data   string
		offset int64
	}{
		{"length query", url.Values{"path": {p}, "offset": {"-1"}}, 200, "", 12},
		{"default offset is length", url.Values{"path": {p}}, 200, "", 12},
		{"whole", url.Values{"path": {p}, "offset": {"0"}}, 200, "hello world\n", 0},
		{"slice", url.Values{"path": {p}, "offset": {"6"}, "length": {"5"}}, 200, "world", 6},
		{"past end", url.Values{"path": {p}, "offset": {"100"}}, 200, "", 12},
		{"symlink inside", url.Values{"path": {"fw/t1/good"}, "offset": {"0"}, "length": {"5"}}, 200, "hello", 0},
		{"bad offset", url.Values{"path": {p}, "offset": {"x"}}, 400, "", 0},
		{"negative length", url.Values{"path": {p}, "offset": {"0"}, "length": {"-2"}}, 400, "", 0},
		{"directory", url.Values{"path": {"fw"}, "offset": {"0"}}, 400, "", 0},
		{"missing path", url.Values{}, 400, "", 0},
		{"not found", url.Values{"path": {"fw/t1/nope"}, "offset": {"0"}}, 404, "", 0},
		{"dotdot escape", url.Values{"path": {"fw/../../secret"}, "offset": {"0"}}, 403, "", 0},
		{"absolute outside", url.Values{"path": {filepath.Join(filepath.Dir(root), "secret")}, "offset": {"0"}}, 403, "", 0},
		{"symlink outside", url.Values{"path": {"fw/t1/evil"}, "offset": {"0"}}, 403, "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := get(t, srv, "/files/read", tt.q)
			if code != tt.code {
				t.Fatalf("read(%v) = %d %s; want %d", tt.q, code, body, tt.code)
			}
			if code != 200 {
				return
			}
			var res ReadResult
			if err := json.Unmarshal(body, &res); err != nil {
				t.Fatal(err)
			}
			if res.Data != tt.data || res.Offset != tt.offset {
				t.Errorf("read(%v) = %+v; want data %q offset %d", tt.q, res, tt.data, tt.offset)
			}
		})
	}
}

func TestDownload(t *testing.T) {
	srv, _ := setup(t)
	code, body := get(t, srv, "/files/download", url.Values{"path": {"fw/t1/stdout"}})
	if code != 200 || string(body) != "hello world\n" {
		t.Errorf("download = %d %q", code, body)
	}
	if code, _ := get(t, srv, "/files/download", url.Values{"path": {"fw/t1/evil"}}); code != 403 {
		t.Errorf("download via outside symlink = %d; want 403", code)
	}
	if code, _ := get(t, srv, "/files/browse", url.Values{"path": {"../"}}); code != 403 {
		t.Errorf("browse ../ = %d; want 403", code)
	}
}

// mkfifo makes a FIFO with no writer. Should a handler still be blocked
// opening it when the test ends, a writer is opened once so the handler
// returns and the server can close.
func mkfifo(t *testing.T, p string) {
	t.Helper()
	if err := syscall.Mkfifo(p, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if fd, err := syscall.Open(p, syscall.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
			syscall.Close(fd)
		}
	})
}

func TestSpecialFilesRefused(t *testing.T) {
	srv, root := setup(t)
	sb := filepath.Join(root, "fw", "t1")
	mkfifo(t, filepath.Join(sb, "fifo"))
	ln, err := net.Listen("unix", filepath.Join(sb, "sock"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	os.Mkdir(filepath.Join(sb, "dir"), 0o755)
	os.Symlink("fifo", filepath.Join(sb, "tofifo"))
	kinds := map[string]string{"fifo": "named pipe", "tofifo": "named pipe", "sock": "socket", "dir": "directory"}
	// A device node needs CAP_MKNOD; /dev/null's numbers are 1,3.
	if err := syscall.Mknod(filepath.Join(sb, "null"), syscall.S_IFCHR|0o666, 1<<8|3); err == nil {
		kinds["null"] = "character device"
	} else {
		t.Logf("no device node test: mknod: %v", err)
	}
	for name, kind := range kinds {
		for _, ep := range []string{"/files/read", "/files/download"} {
			for _, q := range []url.Values{
				{"path": {"fw/t1/" + name}, "offset": {"0"}},
				{"path": {"fw/t1/" + name}},
				{"path": {filepath.Join(sb, name)}, "offset": {"0"}, "length": {"10"}},
			} {
				t.Run(ep+"/"+q.Encode(), func(t *testing.T) {
					code, body := get(t, srv, ep, q)
					if code != http.StatusBadRequest || !strings.Contains(string(body), kind) || !strings.Contains(string(body), name) {
						t.Errorf("GET %s?%s = %d %q; want 400 naming %q and %q", ep, q.Encode(), code, body, name, kind)
					}
				})
			}
		}
	}
	// Listing a sandbox with such entries is fine.
	code, body := get(t, srv, "/files/browse", url.Values{"path": {"fw/t1"}})
	if code != 200 || !strings.Contains(string(body), `"mode":"prw-r--r--"`) {
		t.Errorf("browse = %d %s; want 200 listing the fifo", code, body)
	}
	for _, name := range []string{"fifo", "sock"} {
		code, body := get(t, srv, "/files/browse", url.Values{"path": {"fw/t1/" + name}})
		var ents []Entry
		if code != 200 || json.Unmarshal(body, &ents) != nil || len(ents) != 1 {
			t.Errorf("browse %s = %d %s; want 200 and its entry", name, code, body)
		}
	}
}

func TestHardLinkRefused(t *testing.T) {
	srv, root := setup(t)
	outside := filepath.Join(t.TempDir(), "shadow")
	if err := os.WriteFile(outside, []byte("root:$6$secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	sb := filepath.Join(root, "fw", "t1")
	if err := os.Link(outside, filepath.Join(sb, "x")); err != nil {
		t.Fatal(err)
	}
	os.Symlink("x", filepath.Join(sb, "tox"))
	for _, tt := range []struct {
		ep string
		q  url.Values
	}{
		{"/files/read", url.Values{"path": {"fw/t1/x"}, "offset": {"0"}}},
		{"/files/read", url.Values{"path": {"fw/t1/x"}}},
		{"/files/read", url.Values{"path": {"fw/t1/tox"}, "offset": {"0"}}},
		{"/files/download", url.Values{"path": {filepath.Join(sb, "x")}}},
		{"/files/download", url.Values{"path": {"fw/t1/tox"}}},
	} {
		code, body := get(t, srv, tt.ep, tt.q)
		if code != http.StatusForbidden || !strings.Contains(string(body), "has 2 hard links") || strings.Contains(string(body), "secret") {
			t.Errorf("GET %s?%s = %d %q; want 403 saying it has 2 hard links", tt.ep, tt.q.Encode(), code, body)
		}
	}
}

// TestConfinedToSandbox: a sandbox is fw/task below the root; a path or a
// symlink may not leave the sandbox it names, not even for a sibling whose
// name only extends it.
func TestConfinedToSandbox(t *testing.T) {
	srv, root := setup(t)
	abc, abc2 := filepath.Join(root, "fw", "abc"), filepath.Join(root, "fw", "abc2")
	os.MkdirAll(abc, 0o755)
	os.MkdirAll(abc2, 0o755)
	os.WriteFile(filepath.Join(abc2, "secret"), []byte("other task"), 0o644)
	os.Symlink("../abc2/secret", filepath.Join(abc, "rel"))
	os.Symlink(filepath.Join(abc2, "secret"), filepath.Join(abc, "abs"))
	os.Symlink("../abc2", filepath.Join(abc, "dir"))
	sibling := root + "2"
	os.MkdirAll(sibling, 0o755)
	os.WriteFile(filepath.Join(sibling, "secret"), []byte("beside the root"), 0o644)
	for _, tt := range []struct {
		ep   string
		path string
	}{
		{"/files/read", "fw/abc/rel"},
		{"/files/read", filepath.Join(abc, "abs")},
		{"/files/read", "fw/abc/dir/secret"},
		{"/files/download", "fw/abc/rel"},
		{"/files/download", filepath.Join(abc, "dir", "secret")},
		{"/files/browse", "fw/abc/dir/secret"},
		{"/files/read", filepath.Join(sibling, "secret")},
		{"/files/browse", sibling},
		{"/files/read", "fw/abc/../abc2/secret"},
	} {
		code, body := get(t, srv, tt.ep, url.Values{"path": {tt.path}, "offset": {"0"}})
		if code != http.StatusForbidden {
			t.Errorf("GET %s %s = %d %q; want 403", tt.ep, tt.path, code, body)
		}
	}
	// Browsing the link to the other sandbox describes the link alone.
	code, body := get(t, srv, "/files/browse", url.Values{"path": {"fw/abc/dir/"}})
	var ents []Entry
	if code != 200 || json.Unmarshal(body, &ents) != nil || len(ents) != 1 || !strings.HasPrefix(ents[0].Mode, "L") {
		t.Errorf("browse fw/abc/dir/ = %d %s; want the symlink itself", code, body)
	}
	// The other sandbox itself is served under its own name.
	if code, body := get(t, srv, "/files/read", url.Values{"path": {"fw/abc2/secret"}, "offset": {"0"}}); code != 200 {
		t.Errorf("read fw/abc2/secret = %d %s; want 200", code, body)
	}
}

// TestBrowseDoesNotFollowSymlinks: browse reports a symlink itself (lstat),
// never its target's size, owner, mode or time.
func TestBrowseDoesNotFollowSymlinks(t *testing.T) {
	srv, root := setup(t)
	sb := filepath.Join(root, "fw", "t1")
	target := filepath.Join(filepath.Dir(root), "secret")
	for _, q := range []string{"fw/t1", "fw/t1/evil", filepath.Join(sb, "evil")} {
		code, body := get(t, srv, "/files/browse", url.Values{"path": {q}})
		var ents []Entry
		if code != 200 || json.Unmarshal(body, &ents) != nil {
			t.Fatalf("browse %s = %d %s", q, code, body)
		}
		found := false
		for _, e := range ents {
			if e.Path != filepath.Join(sb, "evil") {
				continue
			}
			found = true
			if !strings.HasPrefix(e.Mode, "L") || e.Size != int64(len(target)) {
				t.Errorf("browse %s: evil = %+v; want the symlink itself (mode L..., size %d)", q, e, len(target))
			}
		}
		if !found {
			t.Errorf("browse %s = %s; want an entry for evil", q, body)
		}
	}
	// A symlink to a directory inside the sandbox is listed as that
	// directory, so a "latest" link still browses.
	os.Mkdir(filepath.Join(sb, "run1"), 0o755)
	os.WriteFile(filepath.Join(sb, "run1", "log"), []byte("x"), 0o644)
	os.Symlink("run1", filepath.Join(sb, "latest"))
	code, body := get(t, srv, "/files/browse", url.Values{"path": {"fw/t1/latest"}})
	var ents []Entry
	if code != 200 || json.Unmarshal(body, &ents) != nil || len(ents) != 1 || ents[0].Path != filepath.Join(sb, "latest", "log") || ents[0].Size != 1 {
		t.Errorf("browse fw/t1/latest = %d %s; want run1's one entry under latest/", code, body)
	}
	// The levels above the sandboxes browse as before.
	for _, q := range []string{".", "fw", root} {
		if code, body := get(t, srv, "/files/browse", url.Values{"path": {q}}); code != 200 {
			t.Errorf("browse %s = %d %s; want 200", q, code, body)
		}
	}
}

func TestContentHeaders(t *testing.T) {
	srv, root := setup(t)
	sb := filepath.Join(root, "fw", "t1")
	names := []string{"page.html", `a"b.log`, "tab\there.log", "ünï.log"}
	for _, name := range names {
		os.WriteFile(filepath.Join(sb, name), []byte("<html><script>alert(1)</script></html>"), 0o644)
	}
	for _, name := range names {
		resp, body := do(t, srv, "/files/download", url.Values{"path": {"fw/t1/" + name}})
		h := resp.Header
		if resp.StatusCode != 200 || !strings.HasPrefix(string(body), "<html>") {
			t.Fatalf("download %q = %d %q", name, resp.StatusCode, body)
		}
		if ct := h.Get("Content-Type"); ct != "application/octet-stream" {
			t.Errorf("download %q: Content-Type = %q; want application/octet-stream", name, ct)
		}
		if n := h.Get("X-Content-Type-Options"); n != "nosniff" {
			t.Errorf("download %q: X-Content-Type-Options = %q; want nosniff", name, n)
		}
		disp, params, err := mime.ParseMediaType(h.Get("Content-Disposition"))
		if err != nil || disp != "attachment" || params["filename"] != name {
			t.Errorf("download %q: Content-Disposition = %q (%v); want attachment with filename %q", name, h.Get("Content-Disposition"), err, name)
		}
	}
	resp, body := do(t, srv, "/files/read", url.Values{"path": {"fw/t1/page.html"}, "offset": {"0"}})
	if resp.StatusCode != 200 || strings.Contains(string(body), "<script>") {
		t.Errorf("read page.html = %d %s; want 200 with the markup escaped", resp.StatusCode, body)
	}
	for _, ep := range []string{"/files/read", "/files/browse"} {
		resp, _ := do(t, srv, ep, url.Values{"path": {"fw/t1/page.html"}, "offset": {"0"}})
		if ct, n := resp.Header.Get("Content-Type"), resp.Header.Get("X-Content-Type-Options"); ct != "application/json" || n != "nosniff" {
			t.Errorf("%s: Content-Type %q, X-Content-Type-Options %q; want application/json, nosniff", ep, ct, n)
		}
	}
}
