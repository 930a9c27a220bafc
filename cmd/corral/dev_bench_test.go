package main

import (
	"bufio"
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"corral/internal/localpg"
)

// BenchmarkDevIdleRSS measures the resident memory of an idle `corral
// dev` (master, 2 agents, services, jobs, console; its private Postgres
// is a separate process and not counted) ten seconds after it is up.
// Goal: ≤ 80 MB.
func BenchmarkDevIdleRSS(b *testing.B) {
	d := startBenchDev(b, 2)
	time.Sleep(10 * time.Second)
	var rss float64
	for b.Loop() {
		rss = vmRSS(b, d.cmd.Process.Pid)
	}
	b.ReportMetric(rss/1024, "rss-MB")
}

// benchDev is a `corral dev` cluster run as a user runs it: the binary as
// built by `go build` (no race detector), its private Postgres with
// durable commits, and every default but the ports.
type benchDev struct {
	cmd                    *exec.Cmd
	dir                    string // the --dir
	master, services, jobs string // base URLs
}

// startBenchDev builds corral, starts `corral dev` with the given number
// of agents, and waits until they and both frameworks are up. It is
// stopped (SIGINT) when b ends.
func startBenchDev(b *testing.B, agents int) *benchDev {
	b.Helper()
	if _, err := localpg.FindBinDir(); err != nil {
		b.Skip(err)
	}
	dir := b.TempDir()
	for d := dir; d != os.TempDir() && d != "/"; d = filepath.Dir(d) {
		_ = os.Chmod(d, 0o755)
	}
	// As `make build` does: corral-logger beside corral, the task log
	// writer the agents start once per task.
	bin := filepath.Join(dir, "corral")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	if out, err := exec.Command("go", "build", "-o", filepath.Join(dir, "corral-logger"), "../corral-logger").CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	ports := map[string]int{}
	for _, n := range []string{"pg_port", "port", "services_port", "jobs_port"} {
		ports[n] = devFreePorts(b, 1)
	}
	ports["agent_port"] = devFreePorts(b, agents)
	d := &benchDev{dir: filepath.Join(dir, "state")}
	args := []string{"dev", "--dir", d.dir, "--log_level", "warn", "--agents", strconv.Itoa(agents), "--task_ports", "39200-39399", "--dns_port", "0"}
	for n, p := range ports {
		args = append(args, "--"+n, strconv.Itoa(p))
	}
	d.cmd = exec.Command(bin, args...)
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := d.cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_ = d.cmd.Process.Signal(os.Interrupt)
		_ = d.cmd.Wait()
	})
	base := func(p int) string { return "http://127.0.0.1:" + strconv.Itoa(p) }
	d.master, d.services, d.jobs = base(ports["port"]), base(ports["services_port"]), base(ports["jobs_port"])
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := awaitDev(ctx, &http.Client{Timeout: 2 * time.Second}, d.master, agents, []string{d.services + "/ping", d.jobs + "/ping"}); err != nil {
		b.Fatalf("corral dev did not come up: %v", err)
	}
	return d
}

// vmRSS reads a process's resident set size in KB.
func vmRSS(b *testing.B, pid int) float64 {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, _ := strconv.ParseFloat(strings.Fields(rest)[0], 64)
			return kb
		}
	}
	b.Fatal("no VmRSS")
	return 0
}
