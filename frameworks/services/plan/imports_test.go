package plan

import (
	"go/parser"
	"go/token"
	"os"
	"strconv"
	"strings"
	"testing"
)

// TestPureImports keeps the package a pure core: no I/O, clock-reading or
// concurrency packages, and of corral only the kernel's value types.
func TestPureImports(t *testing.T) {
	allowed := map[string]bool{
		"corral/kernel/mesos": true, "corral/kernel/resource": true,
		"errors": true, "fmt": true, "math": true, "regexp": true, "slices": true,
		"sort": true, "strconv": true, "strings": true, "time": true,
	}
	entries, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, banned := range []string{"time.Now", "time.Since", "time.Until", "time.After", "time.Sleep", "go func"} {
			if strings.Contains(string(src), banned) {
				t.Errorf("%s uses %s; the planning core takes now as an argument and never blocks", name, banned)
			}
		}
		f, err := parser.ParseFile(token.NewFileSet(), name, src, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			if !allowed[path] {
				t.Errorf("%s imports %q; the planning core may import only %v", name, path, allowed)
			}
		}
	}
}
