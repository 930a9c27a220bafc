package task

import (
	"fmt"
	"strconv"
	"strings"

	"corral/kernel/mesos"
)

// Environment variables by which a task overrides the agent's log limits
// for its own output, as Mesos' logrotate container logger reads them
// (prefix CONTAINER_LOGGER_): a size in bytes (or with a unit: 512KB,
// 10MB, 1GB), and logrotate options of which corral understands
// "rotate N" (N rotated files kept, besides the current one).
const (
	EnvMaxStdoutSize    = "CONTAINER_LOGGER_MAX_STDOUT_SIZE"
	EnvMaxStderrSize    = "CONTAINER_LOGGER_MAX_STDERR_SIZE"
	EnvStdoutRotateOpts = "CONTAINER_LOGGER_LOGROTATE_STDOUT_OPTIONS"
	EnvStderrRotateOpts = "CONTAINER_LOGGER_LOGROTATE_STDERR_OPTIONS"
)

// LogLimit bounds one output stream's files (as LogLimit, to
// which it converts): rotated at MaxSize bytes (0: never), MaxFiles kept.
type LogLimit struct {
	MaxSize  int64
	MaxFiles int
}

// minLogSize is the smallest file size a task may ask for (Mesos: a page).
const minLogSize = 4096

// LogLimits returns the limits of a task's stdout and stderr: the agent's
// defaults, overridden by the task's command environment. The error names
// the variable and what is wrong with it.
func LogLimits(ti *mesos.TaskInfo, defaults LogLimit) (stdout, stderr LogLimit, err error) {
	stdout, stderr = defaults, defaults
	if ti.Command == nil || ti.Command.Environment == nil {
		return stdout, stderr, nil
	}
	for _, v := range ti.Command.Environment.Variables {
		if v.Type == mesos.VariableSecret {
			continue
		}
		var target *LogLimit
		switch v.Name {
		case EnvMaxStdoutSize, EnvStdoutRotateOpts:
			target = &stdout
		case EnvMaxStderrSize, EnvStderrRotateOpts:
			target = &stderr
		default:
			continue
		}
		switch v.Name {
		case EnvMaxStdoutSize, EnvMaxStderrSize:
			n, perr := parseSize(v.Value)
			if perr != nil || n < minLogSize {
				return stdout, stderr, fmt.Errorf("environment variable %s: %q is not a size of at least %d bytes (e.g. 10MB)", v.Name, v.Value, minLogSize)
			}
			target.MaxSize = n
		default:
			n, perr := rotateCount(v.Value)
			if perr != nil {
				return stdout, stderr, fmt.Errorf("environment variable %s: %v", v.Name, perr)
			}
			target.MaxFiles = n + 1
		}
	}
	return stdout, stderr, nil
}

// parseSize reads a byte count with an optional unit (B, KB, MB, GB;
// powers of 1024, as Mesos' Bytes).
func parseSize(s string) (int64, error) {
	s = strings.TrimSpace(strings.ToUpper(s))
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"GB", 1 << 30}, {"MB", 1 << 20}, {"KB", 1 << 10}, {"B", 1}} {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("bad size")
	}
	return n * mult, nil
}

// rotateCount reads logrotate options, of which only "rotate N" (and
// blank lines) are understood.
func rotateCount(opts string) (int, error) {
	n := -1
	for _, line := range strings.FieldsFunc(opts, func(r rune) bool { return r == '\n' || r == ';' }) {
		f := strings.Fields(line)
		switch {
		case len(f) == 0:
		case len(f) == 2 && f[0] == "rotate":
			v, err := strconv.Atoi(f[1])
			if err != nil || v < 0 || v > 1000 {
				return 0, fmt.Errorf("rotate %q: want a count from 0 to 1000", f[1])
			}
			n = v
		default:
			return 0, fmt.Errorf("logrotate option %q is not supported: give \"rotate N\"", line)
		}
	}
	if n < 0 {
		return 0, fmt.Errorf("no \"rotate N\" given")
	}
	return n, nil
}
