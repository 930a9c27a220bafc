package health

import (
	"testing"

	"corral/internal/purity"
)

// TestPure keeps the package a pure function of its inputs.
func TestPure(t *testing.T) {
	purity.Check(t, "corral/internal/healthcheck", "corral/kernel/mesos", "errors", "fmt", "math", "strconv", "strings", "time")
}
