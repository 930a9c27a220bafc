package main

import (
	"os"
	"testing"
)

// TestMain lets the test binary stand in for the corral binary as the
// tasks' logger: `corral dev` run in-process by the tests hands its own
// executable (this test binary) to its agents, which run it as
// "logger ...". With CORRAL_TEST_AS_CORRAL=1 it is corral.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "logger" {
		os.Exit(run(os.Args[1:]))
	}
	// Run as corral itself, for tests of what a command prints.
	if os.Getenv("CORRAL_TEST_AS_CORRAL") == "1" {
		os.Exit(run(os.Args[1:]))
	}
	os.Exit(m.Run())
}
