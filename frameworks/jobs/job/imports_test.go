package job

import (
	"testing"

	"corral/internal/purity"
)

// TestPure keeps the package a pure function of its inputs.
func TestPure(t *testing.T) {
	purity.Check(t, "bytes", "corral/frameworks/internal/blank", "corral/kernel/mesos", "encoding/json", "errors", "fmt", "maps", "math", "net/url", "path", "regexp", "slices", "strconv", "strings", "time")
}
