package logrotate

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRotation: 100 KB of numbered lines through a writer of 4 KB files,
// 3 kept: every file within the limit and ending at a line end, the kept
// files holding the most recent lines in order, none lost between them
// or repeated.
func TestRotation(t *testing.T) {
	path := filepath.Join(t.TempDir(), "stdout")
	var all bytes.Buffer
	for i := 0; all.Len() < 100<<10; i++ {
		fmt.Fprintf(&all, "line %06d %s\n", i, strings.Repeat("x", i%50))
	}
	// Written in pieces of an awkward size.
	r := bytes.NewReader(all.Bytes())
	w, err := Open(path, Limits{MaxSize: 4096, MaxFiles: 3}, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 777)
	for {
		n, _ := r.Read(buf)
		if n == 0 {
			break
		}
		if _, err := w.Write(buf[:n]); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()
	var kept []byte
	for _, name := range []string{"stdout.2", "stdout.1", "stdout"} {
		b, err := os.ReadFile(filepath.Join(filepath.Dir(path), name))
		if err != nil {
			t.Fatal(err)
		}
		if len(b) > 4096 || len(b) == 0 || b[len(b)-1] != '\n' {
			t.Errorf("%s: %d bytes, last %q; want at most 4096, ending a line", name, len(b), b[len(b)-1:])
		}
		kept = append(kept, b...)
	}
	if _, err := os.Stat(path + ".3"); !os.IsNotExist(err) {
		t.Errorf("stdout.3 exists (%v); want 3 files kept", err)
	}
	if !bytes.HasSuffix(all.Bytes(), kept) {
		t.Errorf("the kept files are not the last %d bytes written, in order", len(kept))
	}
}

// TestLongLine: a line longer than a file is cut at MaxSize, and a
// writer reopened on an existing file continues it.
func TestLongLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "stderr")
	w, _ := Open(path, Limits{MaxSize: 10, MaxFiles: 5}, 0o644)
	w.Write([]byte("ab\n"))
	w.Close()
	w, _ = Open(path, Limits{MaxSize: 10, MaxFiles: 5}, 0o644)
	if _, err := w.Write([]byte("0123456789012345\nend\n")); err != nil {
		t.Fatal(err)
	}
	w.Close()
	var got []string
	for _, name := range []string{".3", ".2", ".1", ""} {
		b, _ := os.ReadFile(path + name)
		got = append(got, string(b))
	}
	want := []string{"ab\n", "0123456789", "012345\n", "end\n"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("files = %q; want %q", got, want)
	}
}
