package schedule

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestPureImports keeps the package a pure function of its inputs: the
// standard library minus I/O, clocks-by-goroutine and process state, plus
// robfig/cron/v3 for parsing.
func TestPureImports(t *testing.T) {
	forbidden := []string{"os", "io", "net", "syscall", "log", "sync", "runtime", "database", "unsafe", "time/tzdata", "math/rand", "crypto/rand"}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		f, err := parser.ParseFile(token.NewFileSet(), name, src, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			first, _, _ := strings.Cut(path, "/")
			if strings.Contains(first, ".") && path != "github.com/robfig/cron/v3" {
				t.Errorf("%s imports %s; only the standard library and github.com/robfig/cron/v3 are allowed", name, path)
			}
			for _, bad := range forbidden {
				if path == bad || strings.HasPrefix(path, bad+"/") {
					t.Errorf("%s imports %s; the package must stay pure", name, path)
				}
			}
		}
	}
}
