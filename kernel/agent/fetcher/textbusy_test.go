package fetcher

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"

	"corral/kernel/mesos"
)

// TestFetchedExecutableRunsWhileTheAgentForks: an executable fetched
// while the agent keeps forking processes (other tasks' launches) can be
// run at once. A fork while the file was open for writing left a copy of
// the descriptor in the child until it exec'd, and running the file then
// failed with ETXTBSY (a custom executor exited 126).
func TestFetchedExecutableRunsWhileTheAgentForks(t *testing.T) {
	f := newFetcher(t, 0)
	src := filepath.Join(t.TempDir(), "exe")
	if err := os.WriteFile(src, append([]byte("#!/bin/sh\nexit 0\n"), make([]byte, 256<<10)...), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for ctx.Err() == nil {
				_ = exec.Command("/bin/true").Run()
			}
		})
	}
	defer func() { cancel(); wg.Wait() }()
	yes := true
	busy := 0
	for i := range 300 {
		sandbox := filepath.Join(t.TempDir(), "s")
		if err := os.Mkdir(sandbox, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := f.Fetch(ctx, sandbox, []mesos.CommandURI{{Value: src, Executable: &yes}}, nil); err != nil {
			t.Fatalf("fetch %d: %v", i, err)
		}
		err := exec.Command(filepath.Join(sandbox, "exe")).Run()
		if errors.Is(err, syscall.ETXTBSY) {
			busy++
			continue
		}
		if err != nil {
			t.Fatalf("running the fetched executable: %v", err)
		}
	}
	if busy > 0 {
		t.Errorf("%d of 300 fetched executables could not run: text file busy", busy)
	}
}
