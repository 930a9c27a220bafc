//go:build chaos

package chaos

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
)

// netns is a network namespace of its own for one agent, joined to the
// host by a veth pair on a private /30:
//
//	host                                namespace (the agent and its tasks)
//	  <hostIf> hostIP/30  ◀──── veth ────▶  <nsIf> nsIP/30, lo
//	                                          default route via hostIP
//
// The default route lets the namespace reach every address of the host,
// such as the host end of another namespace's pair, where the masters
// listen. partition drops everything that crosses the veth inside the
// namespace (iptables INPUT and OUTPUT), in both directions and without
// resets, as a switch failure would; heal removes the rules. The host side
// is never touched, so hostIP stays a local address that host processes
// keep using throughout.
//
// Names are "ch<pid>x<seq>" (namespace) and "ch<pid>h<seq>"/"ch<pid>n<seq>"
// (interfaces); newNetns removes those of test binaries that died.
type netns struct {
	name, hostIf, nsIf string
	hostIP, nsIP       string
	cut                atomic.Bool
}

var netnsSeq atomic.Int32

// newNetns creates the namespace and its veth pair, or skips t saying why
// it cannot (not root, no ip or iptables; in CI, where CI=true, that fails
// t instead). Everything is removed when t ends, after killing what still
// runs inside.
func newNetns(t *testing.T) *netns {
	t.Helper()
	cannot := t.Skipf
	if os.Getenv("CI") == "true" {
		cannot = t.Fatalf
	}
	if os.Geteuid() != 0 {
		cannot("the partition scenario needs root: it creates a network namespace and a veth pair")
	}
	for _, tool := range []string{"ip", "iptables"} {
		if _, err := exec.LookPath(tool); err != nil {
			cannot("the partition scenario needs %s (apt-get install iproute2 iptables): %v", tool, err)
		}
	}
	sweepNetns()
	pid, seq := os.Getpid(), netnsSeq.Add(1)
	n := &netns{
		name:   fmt.Sprintf("ch%dx%d", pid, seq),
		hostIf: fmt.Sprintf("ch%dh%d", pid, seq),
		nsIf:   fmt.Sprintf("ch%dn%d", pid, seq),
	}
	// A /30 in 10.213.0.0/16 picked from pid and sequence; the sweep has
	// removed stale ones, and a live binary's differ by pid.
	block := (pid*8 + int(seq)) % 16384
	n.hostIP = fmt.Sprintf("10.213.%d.%d", block/64, block%64*4+1)
	n.nsIP = fmt.Sprintf("10.213.%d.%d", block/64, block%64*4+2)
	if len(n.hostIf) > 15 {
		cannot("interface name %s is longer than the kernel's 15 characters", n.hostIf)
	}
	t.Cleanup(n.remove)
	steps := [][]string{
		{"ip", "netns", "add", n.name},
		{"ip", "link", "add", n.hostIf, "type", "veth", "peer", "name", n.nsIf},
		{"ip", "link", "set", n.nsIf, "netns", n.name},
		{"ip", "addr", "add", n.hostIP + "/30", "dev", n.hostIf},
		{"ip", "link", "set", n.hostIf, "up"},
		{"ip", "netns", "exec", n.name, "ip", "addr", "add", n.nsIP + "/30", "dev", n.nsIf},
		{"ip", "netns", "exec", n.name, "ip", "link", "set", n.nsIf, "up"},
		{"ip", "netns", "exec", n.name, "ip", "link", "set", "lo", "up"},
		{"ip", "netns", "exec", n.name, "ip", "route", "add", "default", "via", n.hostIP},
		{"ip", "netns", "exec", n.name, "iptables", "-w", "-L", "-n"},
	}
	for _, s := range steps {
		if err := run(s...); err != nil {
			if strings.Contains(err.Error(), "Operation not permitted") {
				cannot("cannot create a network namespace here: %v", err)
			}
			t.Fatalf("setting up network namespace %s: %v", n.name, err)
		}
	}
	return n
}

// exec returns the command prefix that runs a program inside the
// namespace.
func (n *netns) exec() []string { return []string{"ip", "netns", "exec", n.name} }

// rules are the iptables rules that cut the namespace off.
func (n *netns) rules() [][]string {
	return [][]string{
		{"INPUT", "-i", n.nsIf, "-j", "DROP"},
		{"OUTPUT", "-o", n.nsIf, "-j", "DROP"},
	}
}

// partition cuts the namespace off from the host.
func (n *netns) partition() error {
	for _, r := range n.rules() {
		if err := run(append(append(n.exec(), "iptables", "-w", "-I"), r...)...); err != nil {
			return fmt.Errorf("partitioning %s: %w", n.name, err)
		}
	}
	n.cut.Store(true)
	return nil
}

// heal removes the partition.
func (n *netns) heal() error {
	var errs []error
	for _, r := range n.rules() {
		if err := run(append(append(n.exec(), "iptables", "-w", "-D"), r...)...); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) == 0 {
		n.cut.Store(false)
	}
	return errors.Join(errs...)
}

// remove kills whatever still runs in the namespace and deletes it; the
// veth pair goes with it.
func (n *netns) remove() {
	killNetnsPids(n.name)
	_ = run("ip", "netns", "del", n.name)
	_ = run("ip", "link", "del", n.hostIf) // normally gone with the namespace
}

// killNetnsPids kills every process in the namespace name.
func killNetnsPids(name string) {
	out, err := exec.Command("ip", "netns", "pids", name).Output()
	if err != nil {
		return
	}
	for _, f := range strings.Fields(string(out)) {
		if pid, err := strconv.Atoi(f); err == nil && pid > 1 {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// sweepNetns removes namespaces (and their host-side interfaces) that
// test binaries which died left behind: named ch<pid>x<seq> with no
// process pid.
func sweepNetns() {
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		return
	}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || !strings.HasPrefix(f[0], "ch") {
			continue
		}
		pidStr, seq, ok := strings.Cut(strings.TrimPrefix(f[0], "ch"), "x")
		pid, err := strconv.Atoi(pidStr)
		if !ok || err != nil || pid <= 0 || syscall.Kill(pid, 0) == nil {
			continue
		}
		killNetnsPids(f[0])
		_ = run("ip", "netns", "del", f[0])
		_ = run("ip", "link", "del", "ch"+pidStr+"h"+seq)
	}
}

// run runs a command and returns its output in the error if it fails.
func run(argv ...string) error {
	out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %v: %s", strings.Join(argv, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}
