package place

import (
	"testing"

	"corral/internal/purity"
)

// TestPure keeps the package a pure function of its inputs.
func TestPure(t *testing.T) {
	purity.Check(t, "corral/kernel/mesos", "corral/kernel/resource", "fmt", "regexp", "slices", "sort", "strconv", "strings", "time")
}
