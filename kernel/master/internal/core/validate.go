package core

import (
	"fmt"
	"math"
	"strings"

	"corral/kernel/mesos"
	"corral/kernel/resource"
)

// maxRefuseSeconds caps filters.refuse_seconds at one year, as Mesos does.
const maxRefuseSeconds = 365 * 24 * 3600

// refuseSeconds resolves the effective refuse filter of an ACCEPT/DECLINE:
// the default when unset, negatives as zero, capped at one year.
func refuseSeconds(f *mesos.Filters, def float64) float64 {
	v := def
	if f != nil && f.RefuseSeconds != nil {
		v = float64(*f.RefuseSeconds)
	}
	if v < 0 {
		v = 0
	}
	return math.Min(v, maxRefuseSeconds)
}

// taskCheck is the result of checking one task of a LAUNCH against the
// resources left in the accepted offers.
type taskCheck struct {
	resources resource.Resources
	// reason is empty for a valid task; otherwise the TASK_ERROR message.
	reason string
}

// checkTask validates a TaskInfo of a LAUNCH on agentID with the resources
// of offers allocated to role still available. The task's resources are
// read as a framework with format sends them: allocation_info may be left
// out (it is role), but may not name another role. existing reports
// whether a task id is already in use by the framework (live, or earlier
// in the same ACCEPT).
//
// A task that names an executor brings executorRes, the resources of
// its executor when the executor is new on the agent: both must fit.
func checkTask(t *mesos.TaskInfo, agentID, role string, format mesos.ResourceFormat, available resource.Resources, existing func(string) bool, executorRes resource.Resources) taskCheck {
	bad := func(format string, args ...any) taskCheck {
		return taskCheck{reason: fmt.Sprintf(format, args...)}
	}
	id := t.TaskID.Value
	docker := t.Container != nil && t.Container.Type == mesos.ContainerDocker
	if docker && t.Command == nil && t.Executor == nil {
		// The image's own entrypoint and command, as Mesos runs it.
		no := false
		t.Command = &mesos.CommandInfo{Shell: &no}
	}
	switch {
	case id == "":
		return bad("Task has no 'task_id'")
	case len(id) > 255:
		return bad("Task ID is longer than 255 bytes")
	case strings.ContainsAny(id, "/\x00") || id == "." || id == "..":
		return bad("Task ID %q must not contain '/' or NUL and must not be '.' or '..'", id)
	case existing(id):
		return bad("Task ID %q is already in use", id)
	case t.AgentID.Value != agentID:
		return bad("Task uses agent %q but the offer is for agent %q", t.AgentID.Value, agentID)
	case t.Executor != nil && t.Command != nil:
		return bad("Task %q sets both 'command' and 'executor'; set exactly one", id)
	case t.Executor != nil && t.Container != nil:
		return bad("Task %q: 'container' with a custom executor is not supported: the executor runs the task; leave 'container' out", id)
	case t.Executor != nil:
		if reason := checkExecutor(t.Executor); reason != "" {
			return bad("Task %q: %s", id, reason)
		}
	case t.Command == nil:
		return bad("Task %q must set 'command' or 'executor'", id)
	case t.Command.IsShell() && t.Command.Value == "":
		return bad("Task %q: shell command 'command.value' is empty", id)
	case !t.Command.IsShell() && t.Command.Value == "" && !docker:
		return bad("Task %q: 'command.value' (the program to run) is empty", id)
	}
	if t.Command != nil {
		for _, u := range t.Command.URIs {
			if reason := u.Problem(); reason != "" {
				return bad("Task %q: 'command.uris': %s", id, reason)
			}
		}
		if reason := checkEnvironment(t.Command.Environment); reason != "" {
			return bad("Task %q: %s", id, reason)
		}
	}
	if hc := t.HealthCheck; hc != nil && hc.Command != nil {
		if reason := checkEnvironment(hc.Command.Environment); reason != "" {
			return bad("Task %q: health_check.command: %s", id, reason)
		}
	}
	if t.Container != nil {
		if reason := t.Container.Problem(); reason != "" {
			return bad("Task %q: %s", id, reason)
		}

	}
	ws, err := format.FromFramework(t.Resources, role)
	if err != nil {
		return bad("Task %q: invalid resources: %v", id, err)
	}
	res, err := resource.FromWire(ws)
	if err != nil {
		return bad("Task %q: invalid resources: %v", id, err)
	}
	if res.Scalar(resource.CPUs) <= 0 && res.Scalar(resource.Mem) <= 0 {
		return bad("Task %q uses no cpus or mem", id)
	}
	if p := mesos.LimitsProblem(t.Limits, res.Scalar(resource.CPUs), res.Scalar(resource.Mem)); p != "" {
		return bad("Task %q: %s", id, p)
	}
	for _, hp := range t.Container.HostPorts() {
		if !inRanges(res.Ranges(resource.Ports), uint64(hp)) {
			return bad("Task %q: 'container.docker.port_mappings': host_port %d is not one of the task's ports", id, hp)
		}
	}
	if need := res.Add(executorRes); !available.Contains(need) {
		if !executorRes.IsEmpty() {
			return bad("Task %q and its new executor %q use more resources than offered: missing %s (offered and unused: %s)", id, t.Executor.ExecutorID.Value, available.Missing(need), available)
		}
		return bad("Task %q uses more resources than offered: missing %s (offered and unused: %s)", id, available.Missing(res), available)
	}
	return taskCheck{resources: res}
}

// reconcileUnknown answers explicit reconciliation for a task the master
// does not know, per the Mesos table: no reply while the agent may still
// re-register, otherwise a state derived from what is known of the agent.
// Non-partition-aware frameworks get TASK_LOST in place of the newer states.
func reconcileUnknown(agent agentStatus, partitionAware bool) (mesos.TaskState, bool) {
	var st mesos.TaskState
	switch agent {
	case agentRecovered:
		return "", false
	case agentRegistered:
		st = mesos.TaskGone
	case agentUnreachable:
		st = mesos.TaskUnreachable
	case agentGone:
		st = mesos.TaskGoneByOperator
	default:
		st = mesos.TaskUnknown
	}
	return stateFor(st, partitionAware), true
}

// stateFor translates a state for a framework that may not be partition
// aware.
func stateFor(st mesos.TaskState, partitionAware bool) mesos.TaskState {
	if !partitionAware && st.PartitionAwareOnly() {
		return mesos.TaskLost
	}
	return st
}

// checkEnvironment validates a command's environment variables: plain
// values, or secrets by reference (resolved by the agent at launch) or by
// value. It returns "" or what is wrong, naming the variable.
func checkEnvironment(env *mesos.Environment) string {
	if env == nil {
		return ""
	}
	for _, v := range env.Variables {
		switch v.Type {
		case "", mesos.VariableValue:
			if v.Secret != nil {
				return fmt.Sprintf("environment variable %q sets 'secret' but its type is not SECRET", v.Name)
			}
			continue
		case mesos.VariableSecret:
		default:
			return fmt.Sprintf("environment variable %q has unknown type %q (want VALUE or SECRET)", v.Name, v.Type)
		}
		if v.Secret == nil {
			return fmt.Sprintf("environment variable %q of type SECRET must set 'secret'", v.Name)
		}
		if reason := v.Secret.Problem(); reason != "" {
			return fmt.Sprintf("environment variable %q: %s", v.Name, reason)
		}
		if v.Secret.Type == mesos.SecretValueType && strings.IndexByte(string(v.Secret.Value.Data), 0) >= 0 {
			return fmt.Sprintf("environment variable %q: a secret value in the environment may not contain NUL bytes", v.Name)
		}
	}
	return ""
}

// inRanges reports whether v is in one of rs.
func inRanges(rs []resource.Range, v uint64) bool {
	for _, r := range rs {
		if v >= r.Begin && v <= r.End {
			return true
		}
	}
	return false
}
