package fetcher

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ulikunitz/xz"

	"corral/kernel/mesos"
)

// server serves files by path and counts the requests for each.
type server struct {
	*httptest.Server
	mu    sync.Mutex
	files map[string][]byte
	hits  map[string]int
	delay time.Duration
}

func newServer(t *testing.T, files map[string][]byte) *server {
	s := &server{files: files, hits: map[string]int{}}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.hits[r.URL.Path]++
		b, ok := s.files[r.URL.Path]
		d := s.delay
		s.mu.Unlock()
		time.Sleep(d)
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Write(b)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *server) hitsOf(p string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hits[p]
}

func newFetcher(t *testing.T, cacheSize int64) *Fetcher {
	t.Helper()
	f, err := New(Config{CacheDir: filepath.Join(t.TempDir(), "cache"), CacheSize: cacheSize, MaxSize: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

type tarEntry struct {
	name, body, link string
	typ              byte
	mode             int64
}

func tarGzOf(t *testing.T, entries ...tarEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	z := gzip.NewWriter(&buf)
	z.Write(tarOf(t, entries...))
	z.Close()
	return buf.Bytes()
}

func xzOf(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := xz.NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(b)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func tarOf(t *testing.T, entries ...tarEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Typeflag: e.typ, Mode: e.mode, Size: int64(len(e.body)), Linkname: e.link}
		if h.Typeflag == 0 {
			h.Typeflag = tar.TypeReg
		}
		if h.Typeflag != tar.TypeReg {
			h.Size = 0
		}
		if h.Mode == 0 {
			h.Mode = 0o644
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Size > 0 {
			tw.Write([]byte(e.body))
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func zipOf(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, body := range files {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(body))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func yes() *bool { b := true; return &b }
func no() *bool  { b := false; return &b }

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("reading %s: %v", p, err)
	}
	return string(b)
}

func TestFetchHTTP(t *testing.T) {
	srv := newServer(t, map[string][]byte{
		"/run.sh":   []byte("#!/bin/sh\necho hi\n"),
		"/app.tgz":  tarGzOf(t, tarEntry{name: "app/", typ: tar.TypeDir, mode: 0o755}, tarEntry{name: "app/bin", body: "B", mode: 0o755}, tarEntry{name: "app/link", typ: tar.TypeSymlink, link: "bin"}),
		"/site.zip": zipOf(t, map[string]string{"site/index.html": "<p>", "top.txt": "top"}),
		"/data.tgz": tarGzOf(t, tarEntry{name: "d.txt", body: "D"}),
		"/q":        []byte("query"),
		"/x.tar.xz": xzOf(t, tarOf(t, tarEntry{name: "x.txt", body: "X"})),
	})
	sandbox := t.TempDir()
	f := newFetcher(t, 0)
	uris := []mesos.CommandURI{
		{Value: srv.URL + "/run.sh", Executable: yes()},
		{Value: srv.URL + "/app.tgz"},
		{Value: srv.URL + "/site.zip"},
		{Value: srv.URL + "/data.tgz", Extract: no()},
		{Value: srv.URL + "/q?x=1", OutputFile: "sub/dir/out.txt"},
		{Value: srv.URL + "/x.tar.xz"},
	}
	if err := f.Fetch(t.Context(), sandbox, uris, nil); err != nil {
		t.Fatalf("Fetch() = %v", err)
	}
	fi, err := os.Stat(filepath.Join(sandbox, "run.sh"))
	if err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("run.sh: mode %v, %v; want 0755", fi.Mode(), err)
	}
	for p, want := range map[string]string{
		"app/bin": "B", "app/link": "B", "site/index.html": "<p>", "top.txt": "top", "sub/dir/out.txt": "query", "x.txt": "X",
	} {
		if got := readFile(t, filepath.Join(sandbox, p)); got != want {
			t.Errorf("%s = %q; want %q", p, got, want)
		}
	}
	if _, err := os.Stat(filepath.Join(sandbox, "app.tgz")); err != nil {
		t.Errorf("archive not kept in the sandbox: %v", err)
	}
	if _, err := os.Stat(filepath.Join(sandbox, "d.txt")); err == nil {
		t.Errorf("extract: false extracted d.txt")
	}
}

func TestFetchFile(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "tool")
	os.WriteFile(src, []byte("T"), 0o600)
	sandbox := t.TempDir()
	f := newFetcher(t, 0)
	if err := f.Fetch(t.Context(), sandbox, []mesos.CommandURI{{Value: src}, {Value: "file://" + src, OutputFile: "again"}}, nil); err != nil {
		t.Fatalf("Fetch() = %v", err)
	}
	if readFile(t, filepath.Join(sandbox, "tool")) != "T" || readFile(t, filepath.Join(sandbox, "again")) != "T" {
		t.Errorf("local files not copied")
	}
}

func TestFetchRefuses(t *testing.T) {
	srv := newServer(t, map[string][]byte{
		"/slip.tgz":    tarGzOf(t, tarEntry{name: "../evil", body: "x"}),
		"/abs.tgz":     tarGzOf(t, tarEntry{name: "/etc/evil", body: "x"}),
		"/link.tgz":    tarGzOf(t, tarEntry{name: "l", typ: tar.TypeSymlink, link: "../../etc"}),
		"/abslink.tgz": tarGzOf(t, tarEntry{name: "l", typ: tar.TypeSymlink, link: "/etc/passwd"}),
		"/through.tgz": tarGzOf(t, tarEntry{name: "l", typ: tar.TypeSymlink, link: "."}, tarEntry{name: "l/../../x", body: "x"}),
		"/slip.zip":    zipOf(t, map[string]string{"../../evil": "x"}),
		"/big":         bytes.Repeat([]byte("x"), 2<<20),
	})
	cases := []struct {
		name string
		uri  mesos.CommandURI
		want string
	}{
		{"tar slip", mesos.CommandURI{Value: srv.URL + "/slip.tgz"}, "leaves the sandbox"},
		{"tar absolute", mesos.CommandURI{Value: srv.URL + "/abs.tgz"}, "absolute"},
		{"symlink out", mesos.CommandURI{Value: srv.URL + "/link.tgz"}, "leaves the sandbox"},
		{"absolute symlink", mesos.CommandURI{Value: srv.URL + "/abslink.tgz"}, "absolute"},
		{"through a link", mesos.CommandURI{Value: srv.URL + "/through.tgz"}, "leaves the sandbox"},
		{"zip slip", mesos.CommandURI{Value: srv.URL + "/slip.zip"}, "leaves the sandbox"},
		{"not found", mesos.CommandURI{Value: srv.URL + "/missing"}, "404"},
		{"too big", mesos.CommandURI{Value: srv.URL + "/big"}, "larger than the limit"},
		{"output_file out", mesos.CommandURI{Value: srv.URL + "/big", OutputFile: "../x"}, "leaves the sandbox"},
		{"output_file absolute", mesos.CommandURI{Value: srv.URL + "/big", OutputFile: "/tmp/x"}, "absolute"},
		{"scheme", mesos.CommandURI{Value: "ftp://h/x"}, "not supported"},
		{"xz not a stream", mesos.CommandURI{Value: srv.URL + "/slip.tgz", OutputFile: "a.txz"}, "xz"},
	}
	f := newFetcher(t, 0)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			outer := t.TempDir()
			sandbox := filepath.Join(outer, "sandbox")
			os.Mkdir(sandbox, 0o755)
			err := f.Fetch(t.Context(), sandbox, []mesos.CommandURI{c.uri}, nil)
			var fe *Error
			if !errors.As(err, &fe) || fe.URI != c.uri.Value || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Fetch(%+v) = %v; want an *Error naming the URI and %q", c.uri, err, c.want)
			}
			for _, p := range []string{"evil", "x", "etc/evil"} {
				if _, err := os.Lstat(filepath.Join(outer, p)); err == nil {
					t.Errorf("%s written outside the sandbox", p)
				}
			}
		})
	}
}

func TestCacheHit(t *testing.T) {
	srv := newServer(t, map[string][]byte{"/a.tgz": tarGzOf(t, tarEntry{name: "a.txt", body: "A"})})
	f := newFetcher(t, 1<<20)
	u := []mesos.CommandURI{{Value: srv.URL + "/a.tgz", Cache: yes()}}
	for i := range 2 {
		sandbox := t.TempDir()
		if err := f.Fetch(t.Context(), sandbox, u, nil); err != nil {
			t.Fatalf("Fetch #%d = %v", i, err)
		}
		if readFile(t, filepath.Join(sandbox, "a.txt")) != "A" {
			t.Errorf("fetch #%d: a.txt not extracted", i)
		}
		if _, err := os.Stat(filepath.Join(sandbox, "a.tgz")); err == nil {
			t.Errorf("fetch #%d: a cached archive was copied into the sandbox", i)
		}
	}
	if n := srv.hitsOf("/a.tgz"); n != 1 {
		t.Errorf("requests = %d; want 1 (the second fetch from the cache)", n)
	}
	if os.Geteuid() != 0 {
		return
	}
	// Another user does not share the entry (Mesos' key is user and URI).
	if err := f.Fetch(t.Context(), t.TempDir(), u, &Owner{UID: 65534, GID: 65534}); err != nil {
		t.Fatalf("Fetch as another user = %v", err)
	}
	if n := srv.hitsOf("/a.tgz"); n != 2 {
		t.Errorf("requests after another user's fetch = %d; want 2", n)
	}
}

func TestCacheEvictsLeastRecentlyUsed(t *testing.T) {
	body := bytes.Repeat([]byte("x"), 400)
	srv := newServer(t, map[string][]byte{"/a": body, "/b": body, "/c": body})
	f := newFetcher(t, 1000) // room for two
	get := func(p string) {
		t.Helper()
		if err := f.Fetch(t.Context(), t.TempDir(), []mesos.CommandURI{{Value: srv.URL + p, Cache: yes()}}, nil); err != nil {
			t.Fatalf("Fetch(%s) = %v", p, err)
		}
	}
	get("/a")
	get("/b")
	get("/a") // a is now the most recently used
	get("/c") // evicts b
	get("/a")
	get("/b")
	for p, want := range map[string]int{"/a": 1, "/b": 2, "/c": 1} {
		if n := srv.hitsOf(p); n != want {
			t.Errorf("requests for %s = %d; want %d", p, n, want)
		}
	}
	if f.cache.used > 1000 {
		t.Errorf("cache holds %d bytes; want at most 1000", f.cache.used)
	}
	des, _ := os.ReadDir(f.cache.dir)
	if len(des) != 2 {
		t.Errorf("cache dir holds %d files; want 2", len(des))
	}
}

func TestCacheTooBigBypasses(t *testing.T) {
	srv := newServer(t, map[string][]byte{"/big": bytes.Repeat([]byte("x"), 2000)})
	f := newFetcher(t, 1000)
	sandbox := t.TempDir()
	if err := f.Fetch(t.Context(), sandbox, []mesos.CommandURI{{Value: srv.URL + "/big", Cache: yes()}}, nil); err != nil {
		t.Fatalf("Fetch() = %v", err)
	}
	if len(readFile(t, filepath.Join(sandbox, "big"))) != 2000 {
		t.Errorf("big not fetched whole")
	}
}

func TestCacheConcurrentDownloadsOnce(t *testing.T) {
	srv := newServer(t, map[string][]byte{"/a.tgz": tarGzOf(t, tarEntry{name: "a.txt", body: "A"})})
	srv.delay = 200 * time.Millisecond
	f := newFetcher(t, 1<<20)
	var wg sync.WaitGroup
	var failed atomic.Int32
	for range 8 {
		wg.Go(func() {
			sandbox := t.TempDir()
			if err := f.Fetch(context.Background(), sandbox, []mesos.CommandURI{{Value: srv.URL + "/a.tgz", Cache: yes()}}, nil); err != nil {
				t.Errorf("Fetch() = %v", err)
				failed.Add(1)
				return
			}
			if b, _ := os.ReadFile(filepath.Join(sandbox, "a.txt")); string(b) != "A" {
				t.Errorf("a.txt = %q; want A", b)
			}
		})
	}
	wg.Wait()
	if n := srv.hitsOf("/a.tgz"); n != 1 {
		t.Errorf("requests = %d; want 1", n)
	}
}

func TestFetchChownsToOwner(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give files away")
	}
	srv := newServer(t, map[string][]byte{"/a.tgz": tarGzOf(t, tarEntry{name: "d/a.txt", body: "A"})})
	f := newFetcher(t, 0)
	sandbox := t.TempDir()
	o := &Owner{UID: 65534, GID: 65534}
	if err := f.Fetch(t.Context(), sandbox, []mesos.CommandURI{{Value: srv.URL + "/a.tgz"}}, o); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"a.tgz", "d", "d/a.txt"} {
		fi, err := os.Lstat(filepath.Join(sandbox, p))
		if err != nil {
			t.Fatal(err)
		}
		if uid, gid := statIDs(fi); uid != 65534 || gid != 65534 {
			t.Errorf("%s owned by %d:%d; want 65534:65534", p, uid, gid)
		}
	}
	// A local file the owner may not read is refused.
	secret := filepath.Join(t.TempDir(), "secret")
	os.WriteFile(secret, []byte("s"), 0o600)
	err := f.Fetch(t.Context(), sandbox, []mesos.CommandURI{{Value: secret}}, o)
	if err == nil || !strings.Contains(err.Error(), "may not") {
		t.Errorf("Fetch(%s) as another user = %v; want refused", secret, err)
	}
}
