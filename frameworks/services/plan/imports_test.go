package plan

import (
	"testing"

	"corral/internal/purity"
)

// TestPureImports keeps the package a pure function of its inputs.
func TestPureImports(t *testing.T) {
	purity.Check(t, "corral/frameworks/internal/place", "corral/internal/healthcheck", "corral/kernel/mesos", "corral/kernel/resource", "errors", "fmt", "math", "regexp", "slices", "sort", "strconv", "strings", "time")
}
