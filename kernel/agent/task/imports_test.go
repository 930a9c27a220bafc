package task

import (
	"testing"

	"corral/internal/purity"
)

// TestPure keeps the package a pure function of its inputs.
func TestPure(t *testing.T) {
	purity.Check(t, "corral/kernel/agent/health", "corral/kernel/mesos", "corral/kernel/resource", "errors", "fmt", "math", "strconv", "strings", "time")
}
