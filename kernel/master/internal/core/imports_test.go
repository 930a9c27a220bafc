package core

import (
	"testing"

	"corral/internal/purity"
)

// TestPure keeps the core a deterministic function of its inputs: no I/O,
// no clock, no goroutines.
func TestPure(t *testing.T) {
	purity.Check(t, "bytes", "cmp", "encoding/json", "fmt", "hash/maphash", "maps", "math", "net/netip", "net/url",
		"slices", "sort", "strconv", "strings", "time",
		"corral/kernel/allocator", "corral/kernel/internal/agentproto", "corral/kernel/mesos", "corral/kernel/resource")
}
