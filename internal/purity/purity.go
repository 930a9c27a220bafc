// Package purity checks, from a package's own tests, that a functional
// core stays pure: it imports only what it is allowed to, never reads the
// clock, never sleeps and never starts a goroutine (STYLE.md: pure cores,
// thin shells). It parses the non-test Go files of the test's working
// directory, which `go test` sets to the package's directory.
package purity

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// clock lists the time functions a pure package must not call: the caller
// passes the time in.
var clock = map[string]bool{"Now": true, "Since": true, "Until": true, "Sleep": true, "After": true,
	"AfterFunc": true, "Tick": true, "NewTimer": true, "NewTicker": true}

// Check fails t if a non-test file of the package in the working
// directory imports anything outside allowed, reads the clock, sleeps or
// starts a goroutine.
func Check(t testing.TB, allowed ...string) {
	t.Helper()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		checked++
		parsed, err := parser.ParseFile(token.NewFileSet(), f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range parsed.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if !slices.Contains(allowed, p) {
				t.Errorf("%s imports %q; a pure package may import only %v", f, p, allowed)
			}
		}
		ast.Inspect(parsed, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.GoStmt:
				t.Errorf("%s starts a goroutine; a pure package must not", f)
			case *ast.SelectorExpr:
				if id, ok := n.X.(*ast.Ident); ok && id.Name == "time" && clock[n.Sel.Name] {
					t.Errorf("%s calls time.%s; a pure package takes the time from its caller", f, n.Sel.Name)
				}
			}
			return true
		})
	}
	if checked == 0 {
		t.Fatal("no Go files found: run Check from a package's tests")
	}
}
