package schedule

import (
	"testing"

	"corral/internal/purity"
)

// TestPureImports keeps the package a pure function of its inputs.
func TestPureImports(t *testing.T) {
	purity.Check(t, "fmt", "github.com/robfig/cron/v3", "math", "math/bits", "strconv", "strings", "time")
}
