package app

import (
	"testing"

	"corral/internal/purity"
)

// TestImports keeps the package a pure function of its inputs.
func TestImports(t *testing.T) {
	purity.Check(t, "bytes", "corral/frameworks/internal/blank", "encoding/json", "errors", "fmt", "github.com/google/uuid", "math", "regexp", "slices", "strconv", "strings", "time")
}
