package agent

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"corral/kernel/resource"
)

// Default ports offered when none are configured (as Mesos).
var defaultPorts = resource.Range{Begin: 31000, End: 32000}

// machine is what resource detection reads from the host.
type machine struct {
	cpus       int
	memTotalMB float64
	diskFreeMB float64
}

func readMachine(workDir string) (machine, error) {
	m := machine{cpus: runtime.NumCPU()}
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return m, fmt.Errorf("reading memory size: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "MemTotal:"); ok {
			kb, _ := strconv.ParseFloat(strings.Fields(rest)[0], 64)
			m.memTotalMB = kb / 1024
		}
	}
	var st unix.Statfs_t
	if err := unix.Statfs(workDir, &st); err != nil {
		return m, fmt.Errorf("reading free space of %s: %w", workDir, err)
	}
	m.diskFreeMB = float64(st.Bavail) * float64(st.Bsize) / (1 << 20)
	return m, nil
}

// totalResources merges configured resources with detected ones: every
// well-known name not configured is filled from the machine.
// With share in (0, 1) only that fraction of the detected cpus, mem and
// disk (after the machine's reserve) is offered.
func totalResources(configured string, share float64, m machine) (resource.Resources, error) {
	r, err := resource.Parse(configured)
	if err != nil {
		return resource.Resources{}, err
	}
	if share <= 0 || share > 1 {
		share = 1
	}
	if r.Scalar(resource.CPUs) == 0 {
		r = r.Add(resource.Scalar(resource.CPUs, float64(m.cpus)*share))
	}
	if r.Scalar(resource.Mem) == 0 {
		reserve := min(1024, m.memTotalMB/2)
		r = r.Add(resource.Scalar(resource.Mem, float64(int64((m.memTotalMB-reserve)*share))))
	}
	if r.Scalar(resource.Disk) == 0 {
		reserve := min(5120, m.diskFreeMB/2)
		r = r.Add(resource.Scalar(resource.Disk, float64(int64((m.diskFreeMB-reserve)*share))))
	}
	if len(r.Ranges(resource.Ports)) == 0 {
		r = r.Add(resource.RangesOf(resource.Ports, defaultPorts))
	}
	return r, nil
}

// bootID returns the id of the current boot of the host.
func bootID() (string, error) {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return "", fmt.Errorf("reading boot id: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}
