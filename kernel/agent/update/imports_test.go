package update

import (
	"testing"

	"corral/internal/purity"
)

// TestPure keeps the package a pure function of its inputs.
func TestPure(t *testing.T) {
	purity.Check(t, "corral/kernel/internal/agentproto", "corral/kernel/mesos", "sort", "time")
}
