package agent

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestPureCores: the decision packages stay free of I/O, so they remain
// deterministic and testable without processes or files.
func TestPureCores(t *testing.T) {
	forbidden := []string{"os", "os/exec", "io", "io/fs", "net", "net/http", "syscall", "golang.org/x/sys/unix", "log/slog"}
	for _, pkg := range []string{"task", "update", "health"} {
		files, _ := filepath.Glob(filepath.Join(pkg, "*.go"))
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			af, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.ImportsOnly)
			if err != nil {
				t.Fatal(err)
			}
			for _, imp := range af.Imports {
				path, _ := strconv.Unquote(imp.Path.Value)
				for _, bad := range forbidden {
					if path == bad {
						t.Errorf("%s imports %q; the package must stay pure", f, path)
					}
				}
			}
		}
	}
}
