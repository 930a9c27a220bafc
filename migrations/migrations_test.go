package migrations

import (
	"fmt"
	"regexp"
	"strconv"
	"testing"
)

var fileName = regexp.MustCompile(`^(\d{6})_[a-z0-9_]+\.(up|down)\.sql$`)

// TestSequence checks the naming rules golang-migrate and the project rely
// on: every file is NNNNNN_title.(up|down).sql, versions run 1, 2, 3… without
// gaps or duplicates, and every up file has its down file.
func TestSequence(t *testing.T) {
	entries, err := FS.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	type pair struct{ up, down string }
	byVersion := map[int]*pair{}
	for _, e := range entries {
		m := fileName.FindStringSubmatch(e.Name())
		if m == nil {
			t.Errorf("%s: name is not NNNNNN_title.(up|down).sql", e.Name())
			continue
		}
		v, _ := strconv.Atoi(m[1])
		p := byVersion[v]
		if p == nil {
			p = &pair{}
			byVersion[v] = p
		}
		slot := &p.up
		if m[2] == "down" {
			slot = &p.down
		}
		if *slot != "" {
			t.Errorf("version %d has two %s files: %s and %s", v, m[2], *slot, e.Name())
		}
		*slot = e.Name()
	}
	if len(byVersion) == 0 {
		t.Fatal("no migrations embedded")
	}
	for v := 1; v <= len(byVersion); v++ {
		p, ok := byVersion[v]
		if !ok {
			t.Errorf("version %d missing: versions must run 1..%d without gaps", v, len(byVersion))
			continue
		}
		if p.up == "" || p.down == "" {
			t.Errorf("version %d: up %q, down %q; want both", v, p.up, p.down)
		}
	}
	for v := range byVersion {
		if v < 1 || v > len(byVersion) {
			t.Errorf("version %s out of sequence", fmt.Sprintf("%06d", v))
		}
	}
}
