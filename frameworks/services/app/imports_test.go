package app

import (
	"testing"

	"corral/internal/purity"
)

// TestImports keeps the package a pure function of its inputs. It may use
// the kernel's wire types (corral/kernel/mesos, itself pure) for the
// rules tasks must follow, such as where a sandbox file may go.
func TestImports(t *testing.T) {
	purity.Check(t, "bytes", "corral/frameworks/internal/blank", "corral/kernel/mesos", "encoding/json", "errors", "fmt", "github.com/google/uuid", "math", "regexp", "slices", "strconv", "strings", "time")
}
