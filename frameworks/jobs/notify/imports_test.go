package notify

import (
	"testing"

	"corral/internal/purity"
)

// TestPure keeps the package a pure function of its inputs.
func TestPure(t *testing.T) {
	purity.Check(t, "corral/frameworks/jobs/job", "net/mail", "net/url", "strconv", "strings", "time", "unicode", "unicode/utf8")
}
