package runner

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

func TestV1Writes(t *testing.T) {
	const mb = 1 << 20
	for _, c := range []struct {
		name        string
		l           Limits
		fresh, swap bool
		want        []cgroupWrite
	}{
		{"fresh: defaults are not written", Limits{CPUs: 0.5, MemMB: 64}, true, true, []cgroupWrite{
			{"cpu.shares", 512}, {"cpu.cfs_quota_us", 50000},
			{"memory.limit_in_bytes", 64 * mb}, {"memory.memsw.limit_in_bytes", 64 * mb}}},
		{"fresh without swap accounting", Limits{CPUs: 0.5, MemMB: 64}, true, false, []cgroupWrite{
			{"cpu.shares", 512}, {"cpu.cfs_quota_us", 50000}, {"memory.limit_in_bytes", 64 * mb}}},
		{"fresh, unlimited above the requests", Limits{CPUs: 1, MemMB: 64, CPULimit: math.Inf(1), MemLimitMB: math.Inf(1)}, true, true, []cgroupWrite{
			{"cpu.shares", 1024}, {"memory.soft_limit_in_bytes", 64 * mb}}},
		{"reused: every setting", Limits{CPUs: 1, MemMB: 64, CPULimit: math.Inf(1)}, false, true, []cgroupWrite{
			{"cpu.shares", 1024}, {"cpu.cfs_period_us", 100000}, {"cpu.cfs_quota_us", -1},
			{"memory.limit_in_bytes", 64 * mb}, {"memory.soft_limit_in_bytes", -1}, {"memory.memsw.limit_in_bytes", 64 * mb}}},
		{"no cpu, no memory", Limits{}, true, true, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			if diff := cmp.Diff(c.want, v1Writes(c.l, c.fresh, c.swap), cmp.AllowUnexported(cgroupWrite{})); diff != "" {
				t.Errorf("v1Writes(%+v, fresh %v, swap %v) (-want +got):\n%s", c.l, c.fresh, c.swap, diff)
			}
		})
	}
}

// TestCgroupReusedGetsNewLimits: a cgroup left by an earlier task of the
// same name is reused with the new task's limits, not the old ones.
func TestCgroupReusedGetsNewLimits(t *testing.T) {
	r := newTestRunner(t, "auto")
	cgroupsRequired(t, r)
	if mode, _ := r.Cgroups(); mode != "v1" {
		t.Skipf("limit files checked for v1 only; mode is %s", mode)
	}
	parent := cgroupParentOf(r)
	path := func(ctrl, file string) string { return filepath.Join("/sys/fs/cgroup", ctrl, parent, "again", file) }
	for _, ctrl := range []string{"cpu", "memory"} {
		if err := os.Mkdir(path(ctrl, ""), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for file, v := range map[string]string{"cpu.cfs_quota_us": "20000", "memory.soft_limit_in_bytes": fmt.Sprint(40 << 20)} {
		ctrl, _, _ := strings.Cut(file, ".")
		if err := os.WriteFile(path(ctrl, file), []byte(v), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s := spec(t, "again", "sleep 600")
	s.CPUs, s.MemMB, s.CPULimit = 0.5, 64, math.Inf(1)
	if _, err := r.Start(s); err != nil {
		t.Fatal(err)
	}
	defer r.Kill("again", 0)
	for _, c := range []struct{ ctrl, file, want string }{
		{"cpu", "cpu.shares", "512"},
		{"cpu", "cpu.cfs_quota_us", "-1"},
		{"memory", "memory.limit_in_bytes", fmt.Sprint(64 << 20)},
		{"memory", "memory.soft_limit_in_bytes", "9223372036854771712"}, // unlimited
	} {
		b, _ := os.ReadFile(path(c.ctrl, c.file))
		if got := strings.TrimSpace(string(b)); got != c.want {
			t.Errorf("%s = %q; want %s", c.file, got, c.want)
		}
	}
}

// TestCgroupWriteRetriesEINTR: a cgroup write interrupted by a signal is
// made again, not reported as a failed launch ("interrupted system call"
// on memory.memsw.limit_in_bytes failed runs under load).
func TestCgroupWriteRetriesEINTR(t *testing.T) {
	file := filepath.Join(t.TempDir(), "memory.limit_in_bytes")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	interrupted := 0
	sysWrite = func(fd int, p []byte) (int, error) {
		if interrupted < 3 {
			interrupted++
			return 0, unix.EINTR
		}
		return unix.Write(fd, p)
	}
	defer func() { sysWrite = unix.Write }()
	if err := writeCgroupFile(file, 33554432); err != nil {
		t.Fatalf("writeCgroupFile after %d interruptions = %v; want it written", interrupted, err)
	}
	if b, _ := os.ReadFile(file); string(b) != "33554432" {
		t.Errorf("file = %q; want 33554432", b)
	}
}
