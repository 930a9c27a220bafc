package runner

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/containerd/cgroups/v3"
	"github.com/containerd/cgroups/v3/cgroup1"
	"github.com/containerd/cgroups/v3/cgroup2"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

const cgroupMount = "/sys/fs/cgroup"

// cpuPeriod is the CFS period in microseconds; the quota is cpus × period.
const cpuPeriod = 100000

// driver creates task cgroups under the agent's parent cgroup.
type driver interface {
	mode() string
	create(name string, l Limits) (group, error)
	// load returns the existing cgroup name, or nil when it is gone.
	load(name string) group
}

// group is one task's cgroup.
type group interface {
	add(pid int) error
	// update sets new limits.
	update(l Limits) error
	oomKilled() bool
	killAll()
	remove() error
}

// DetectCgroups picks the cgroup driver for mode ("auto", "v1", "v2",
// "none") with task cgroups under parent. With "auto" a driver that cannot
// be used yields no driver and the reason; with "v1" or "v2" it is an error.
func DetectCgroups(mode, parent string) (d driver, reason string, err error) {
	if mode == "" {
		mode = "auto"
	}
	if mode == "none" {
		return nil, "disabled by configuration", nil
	}
	if parent == "" || !path.IsAbs(parent) {
		return nil, "", fmt.Errorf("cgroup parent %q must be an absolute cgroup path", parent)
	}
	want := mode
	if mode == "auto" {
		if os.Geteuid() != 0 {
			return nil, "not running as root", nil
		}
		switch cgroups.Mode() {
		case cgroups.Unified:
			want = "v2"
		case cgroups.Legacy, cgroups.Hybrid:
			want = "v1"
		default:
			return nil, "no cgroup file system mounted at " + cgroupMount, nil
		}
	}
	switch want {
	case "v1":
		d, err = newV1(parent)
	case "v2":
		d, err = newV2(parent)
	default:
		return nil, "", fmt.Errorf("unknown cgroups mode %q (want auto, v1, v2 or none)", mode)
	}
	if err != nil {
		if mode == "auto" {
			return nil, fmt.Sprintf("cgroups %s unusable: %v", want, err), nil
		}
		return nil, "", fmt.Errorf("cgroups %s: %w", want, err)
	}
	return d, "", nil
}

// --- cgroup v1 ---

type v1Driver struct {
	parent string
	hier   cgroup1.Hierarchy
	// swap: the memory hierarchy accounts swap (memory.memsw.* exist).
	swap bool
}

func newV1(parent string) (*v1Driver, error) {
	for _, s := range []string{"cpu", "memory"} {
		if _, err := os.Stat(filepath.Join(cgroupMount, s, "cgroup.procs")); err != nil {
			return nil, fmt.Errorf("controller %s not mounted: %w", s, err)
		}
	}
	d := &v1Driver{parent: parent, hier: func() ([]cgroup1.Subsystem, error) {
		return []cgroup1.Subsystem{
			cgroup1.NewCpu(cgroupMount),
			cgroup1.NewMemory(cgroupMount, cgroup1.OptionalSwap()),
		}, nil
	}}
	cg, err := cgroup1.New(cgroup1.StaticPath(parent), &specs.LinuxResources{}, cgroup1.WithHierarchy(d.hier))
	if err != nil {
		return nil, fmt.Errorf("creating %s: %w", parent, err)
	}
	// Probe that we may create (and remove) task cgroups, not just read.
	probe, err := cg.New(".probe", &specs.LinuxResources{})
	if err != nil {
		return nil, fmt.Errorf("creating a cgroup under %s: %w", parent, err)
	}
	probe.Delete()
	_, err = os.Stat(filepath.Join(cgroupMount, "memory", "memory.memsw.limit_in_bytes"))
	d.swap = err == nil
	return d, nil
}

func (d *v1Driver) mode() string { return "v1" }

func v1Resources(l Limits) *specs.LinuxResources {
	res := &specs.LinuxResources{}
	if l.CPUs > 0 {
		shares := uint64(max(2, l.CPUs*1024))
		quota := int64(-1) // no CFS quota: an unlimited cpu limit
		if cpu := l.cpuLimit(); !math.IsInf(cpu, 1) {
			quota = int64(max(1000, cpu*cpuPeriod))
		}
		period := uint64(cpuPeriod)
		res.CPU = &specs.LinuxCPU{Shares: &shares, Quota: &quota, Period: &period}
	}
	if l.MemMB > 0 {
		limit := int64(-1)
		if mem := l.memLimit(); !math.IsInf(mem, 1) {
			limit = int64(max(mem, 32) * (1 << 20))
		}
		swap := limit // memory+swap equal to memory: no swap
		res.Memory = &specs.LinuxMemory{Limit: &limit, Swap: &swap}
		if l.memLimit() > l.MemMB {
			soft := int64(max(l.MemMB, 32) * (1 << 20))
			res.Memory.Reservation = &soft
		}
	}
	return res
}

// create makes the task's cgroup in the cpu and memory hierarchies by
// hand: a mkdir in each and one write per limit that differs from a new
// cgroup's default. The library's New stats and mkdirs each path, writes
// every field it is given (among them cpu.cfs_period_us, whose every
// write reconfigures the group's CFS bandwidth in the kernel even when
// it is the default), and re-stats the hierarchy; at a launch of
// hundreds of tasks that was a quarter of the agent's CPU. A cgroup left
// by an earlier task of the same name is reused with all its limits
// rewritten.
func (d *v1Driver) create(name string, l Limits) (group, error) {
	p := path.Join(d.parent, name)
	g := newV1Group(d, p)
	if err := g.make(l); err != nil {
		// A half-created cgroup would otherwise linger.
		g.remove()
		return nil, err
	}
	return g, nil
}

func (d *v1Driver) load(name string) group {
	p := path.Join(d.parent, name)
	if _, err := os.Stat(filepath.Join(cgroupMount, "memory", p)); err != nil {
		return nil
	}
	return newV1Group(d, p)
}

func newV1Group(d *v1Driver, p string) *v1Group {
	return &v1Group{d: d, path: p, memDir: filepath.Join(cgroupMount, "memory", p), cpuDir: filepath.Join(cgroupMount, "cpu", p)}
}

// v1Group is one task's cgroup v1. Creation, joining, the checks and the
// removal made at every task's start and exit touch the cgroupfs
// directly (a mkdir, a write per setting, one file read, one rmdir per
// hierarchy) instead of the library's full Stat and recursive walks,
// which cost several times the task's own start-up; the library serves
// the rare rest (resizing an executor, old kernels' OOM counter).
type v1Group struct {
	d      *v1Driver
	path   string // the cgroup path under the hierarchies' roots
	memDir string // the task's directory in the memory hierarchy
	cpuDir string // and in the cpu hierarchy
}

// make creates the group's directories with limits l (see create).
func (g *v1Group) make(l Limits) error {
	fresh := true
	for _, dir := range []string{g.cpuDir, g.memDir} {
		err := unix.Mkdir(dir, 0o755)
		if errors.Is(err, unix.ENOENT) {
			err = os.MkdirAll(dir, 0o755) // the agent's parent went missing
		}
		if errors.Is(err, unix.EEXIST) {
			fresh, err = false, nil
		}
		if err != nil {
			return fmt.Errorf("creating cgroup %s: %w", dir, err)
		}
	}
	for _, w := range v1Writes(l, fresh, g.d.swap) {
		dir := g.cpuDir
		if strings.HasPrefix(w.file, "memory.") {
			dir = g.memDir
		}
		if err := writeCgroupFile(filepath.Join(dir, w.file), w.value); err != nil {
			return err
		}
	}
	return nil
}

// cgroupWrite is one setting of a cgroup v1: a file and its value.
type cgroupWrite struct {
	file  string
	value int64
}

// v1Writes are the files to write, in order, to give a cgroup v1 limits
// l: the same settings as v1Resources. A fresh cgroup already has the
// kernel's defaults (CFS period 100 ms, no quota, no memory limit, no
// soft limit), so those are not written to it; a reused one gets every
// setting. swap says whether memory.memsw.* exists.
func v1Writes(l Limits, fresh, swap bool) []cgroupWrite {
	res := v1Resources(l)
	var out []cgroupWrite
	if c := res.CPU; c != nil {
		out = append(out, cgroupWrite{"cpu.shares", int64(*c.Shares)})
		if !fresh || *c.Period != cpuPeriod {
			out = append(out, cgroupWrite{"cpu.cfs_period_us", int64(*c.Period)})
		}
		if !fresh || *c.Quota != -1 {
			out = append(out, cgroupWrite{"cpu.cfs_quota_us", *c.Quota})
		}
	}
	if m := res.Memory; m != nil {
		if !fresh || *m.Limit != -1 {
			// The memory limit first: memsw may not go below it.
			out = append(out, cgroupWrite{"memory.limit_in_bytes", *m.Limit})
		}
		if m.Reservation != nil {
			out = append(out, cgroupWrite{"memory.soft_limit_in_bytes", *m.Reservation})
		} else if !fresh {
			out = append(out, cgroupWrite{"memory.soft_limit_in_bytes", -1})
		}
		if swap && (!fresh || *m.Swap != -1) {
			out = append(out, cgroupWrite{"memory.memsw.limit_in_bytes", *m.Swap})
		}
	}
	return out
}

// sysWrite is write(2); tests replace it.
var sysWrite = unix.Write

// writeCgroupFile writes v to a cgroupfs file with one write(2),
// retrying EINVAL briefly: the kernel refuses to move a task that is
// still being created (as runc and the cgroups library do). A write
// interrupted by a signal (EINTR: setting a memory limit may reclaim
// memory first, long enough for the Go runtime's preemption signal to
// arrive) is simply made again.
func writeCgroupFile(file string, v int64) error {
	fd, err := unix.Open(file, unix.O_WRONLY|unix.O_CLOEXEC, 0)
	for errors.Is(err, unix.EINTR) {
		fd, err = unix.Open(file, unix.O_WRONLY|unix.O_CLOEXEC, 0)
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", file, err)
	}
	defer unix.Close(fd)
	b := strconv.AppendInt(make([]byte, 0, 20), v, 10)
	for try := 0; ; {
		_, err = sysWrite(fd, b)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err == nil || !errors.Is(err, unix.EINVAL) || try == 4 {
			break
		}
		try++
		time.Sleep(30 * time.Millisecond)
	}
	if err != nil {
		return fmt.Errorf("writing %d to %s: %w", v, file, err)
	}
	return nil
}

func (g *v1Group) add(pid int) error {
	for _, dir := range []string{g.cpuDir, g.memDir} {
		if err := writeCgroupFile(filepath.Join(dir, "cgroup.procs"), int64(pid)); err != nil {
			return err
		}
	}
	return nil
}

// lib returns the group as the library's, for its rare uses.
func (g *v1Group) lib() (cgroup1.Cgroup, error) {
	return cgroup1.Load(cgroup1.StaticPath(g.path), cgroup1.WithHierarchy(g.d.hier))
}

func (g *v1Group) update(l Limits) error {
	cg, err := g.lib()
	if err != nil {
		return err
	}
	return cg.Update(v1Resources(l))
}

func (g *v1Group) oomKilled() bool {
	b, err := os.ReadFile(filepath.Join(g.memDir, "memory.oom_control"))
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[0] == "oom_kill" {
			n, _ := strconv.ParseUint(f[1], 10, 64)
			return n > 0
		}
	}
	// Kernels before 4.13 have no oom_kill counter: fall back to the
	// library's view of the failure counter.
	cg, err := g.lib()
	if err != nil {
		return false
	}
	st, err := cg.Stat(cgroup1.IgnoreNotExist)
	return err == nil && st.MemoryOomControl != nil && st.MemoryOomControl.OomKill > 0
}

func (g *v1Group) killAll() {
	for i := 0; i < 3; i++ {
		b, err := os.ReadFile(filepath.Join(g.memDir, "cgroup.procs"))
		if err != nil {
			return
		}
		pids := strings.Fields(string(b))
		if len(pids) == 0 {
			return
		}
		for _, s := range pids {
			if pid, err := strconv.Atoi(s); err == nil {
				unix.Kill(pid, unix.SIGKILL)
			}
		}
	}
}

// remove deletes the (empty) task cgroup from both hierarchies. A cgroup
// whose last process is still exiting is busy for a moment: rmdir is
// retried briefly. Already gone counts as removed.
func (g *v1Group) remove() error {
	for _, dir := range []string{g.cpuDir, g.memDir} {
		var err error
		for try := 0; try < 5; try++ {
			if err = unix.Rmdir(dir); err == nil || errors.Is(err, unix.ENOENT) {
				err = nil
				break
			}
			if !errors.Is(err, unix.EBUSY) {
				break
			}
			time.Sleep(time.Duration(try+1) * 10 * time.Millisecond)
		}
		if err != nil {
			return fmt.Errorf("removing cgroup %s: %w", dir, err)
		}
	}
	return nil
}

// --- cgroup v2 ---

type v2Driver struct{ parent string }

func newV2(parent string) (*v2Driver, error) {
	res := &cgroup2.Resources{CPU: &cgroup2.CPU{}, Memory: &cgroup2.Memory{}}
	m, err := cgroup2.NewManager(cgroupMount, parent, res)
	if err != nil {
		return nil, fmt.Errorf("creating %s: %w", parent, err)
	}
	probe, err := m.NewChild(".probe", res)
	if err != nil {
		return nil, fmt.Errorf("creating a cgroup under %s: %w", parent, err)
	}
	probe.Delete()
	ctrls, err := m.Controllers()
	if err != nil {
		return nil, fmt.Errorf("reading controllers of %s: %w", parent, err)
	}
	have := strings.Join(ctrls, " ")
	for _, c := range []string{"cpu", "memory"} {
		if !strings.Contains(have, c) {
			return nil, fmt.Errorf("controller %s not available under %s", c, parent)
		}
	}
	return &v2Driver{parent: parent}, nil
}

func (d *v2Driver) mode() string { return "v2" }

// v2Resources are l as cgroup v2 settings.
func v2Resources(l Limits) *cgroup2.Resources {
	res := &cgroup2.Resources{}
	if l.CPUs > 0 {
		weight := uint64(min(10000, max(1, l.CPUs*100)))
		period := uint64(cpuPeriod)
		var quota *int64 // nil: "max", an unlimited cpu limit
		if cpu := l.cpuLimit(); !math.IsInf(cpu, 1) {
			q := int64(max(1000, cpu*cpuPeriod))
			quota = &q
		}
		res.CPU = &cgroup2.CPU{Weight: &weight, Max: cgroup2.NewCPUMax(quota, &period)}
	}
	if l.MemMB > 0 {
		var noSwap int64
		res.Memory = &cgroup2.Memory{Swap: &noSwap}
		if mem := l.memLimit(); !math.IsInf(mem, 1) {
			limit := int64(max(mem, 32) * (1 << 20))
			res.Memory.Max = &limit
		}
		if l.memLimit() > l.MemMB {
			low := int64(max(l.MemMB, 32) * (1 << 20))
			res.Memory.Low = &low
		}
	}
	return res
}

func (d *v2Driver) create(name string, l Limits) (group, error) {
	res := v2Resources(l)
	m, err := cgroup2.NewManager(cgroupMount, path.Join(d.parent, name), res)
	if err != nil && res.Memory != nil {
		// memory.swap.max is missing without swap accounting; retry without.
		res.Memory.Swap = nil
		m, err = cgroup2.NewManager(cgroupMount, path.Join(d.parent, name), res)
	}
	if err != nil {
		return nil, err
	}
	return v2Group{m}, nil
}

func (d *v2Driver) load(name string) group {
	p := path.Join(d.parent, name)
	if _, err := os.Stat(filepath.Join(cgroupMount, p)); err != nil {
		return nil
	}
	m, err := cgroup2.Load(p)
	if err != nil {
		return nil
	}
	return v2Group{m}
}

type v2Group struct{ m *cgroup2.Manager }

func (g v2Group) add(pid int) error { return g.m.AddProc(uint64(pid)) }

func (g v2Group) update(l Limits) error {
	res := v2Resources(l)
	err := g.m.Update(res)
	if err != nil && res.Memory != nil {
		res.Memory.Swap = nil // as in create
		err = g.m.Update(res)
	}
	return err
}

func (g v2Group) oomKilled() bool {
	st, err := g.m.Stat()
	if err != nil || st.MemoryEvents == nil {
		return false
	}
	return st.MemoryEvents.OomKill > 0
}

func (g v2Group) killAll() {
	if err := g.m.Kill(); err != nil && !errors.Is(err, os.ErrNotExist) {
		_ = err // best effort: remove() reports a cgroup that stays busy
	}
}

func (g v2Group) remove() error { return g.m.Delete() }
