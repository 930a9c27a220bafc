package master

import (
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"strings"

	"corral/kernel/mesos"
	"corral/kernel/resource"
)

// maxRefuseSeconds caps filters.refuse_seconds at one year, as Mesos does.
const maxRefuseSeconds = 365 * 24 * 3600

// validateRole checks a role name with Mesos' rules: non-empty, not "." or
// "..", no leading/trailing or doubled "/", no whitespace or control
// characters, and not starting with "-".
func validateRole(role string) error {
	switch {
	case role == "":
		return errors.New("role must not be empty")
	case role == "*":
		return nil
	case strings.HasPrefix(role, "/") || strings.HasSuffix(role, "/") || strings.Contains(role, "//"):
		return fmt.Errorf("role %q: must not start or end with '/' or contain '//'", role)
	case strings.HasPrefix(role, "-"):
		return fmt.Errorf("role %q: must not start with '-'", role)
	}
	for _, part := range strings.Split(role, "/") {
		if part == "." || part == ".." {
			return fmt.Errorf("role %q: '.' and '..' are not allowed", role)
		}
		if part == "*" {
			return fmt.Errorf("role %q: '*' is only allowed as the whole role", role)
		}
	}
	for _, r := range role {
		if r <= ' ' || r == 0x7f {
			return fmt.Errorf("role %q: whitespace and control characters are not allowed", role)
		}
	}
	return nil
}

// validateFrameworkInfo checks a SUBSCRIBE's FrameworkInfo.
func validateFrameworkInfo(fi *mesos.FrameworkInfo) error {
	if fi.User == "" {
		return errors.New("'framework_info.user' is required")
	}
	for field, v := range map[string]string{"user": fi.User, "name": fi.Name, "principal": fi.Principal, "hostname": fi.Hostname, "webui_url": fi.WebuiURL, "role": fi.Role} {
		if strings.ContainsRune(v, 0) {
			return fmt.Errorf("'framework_info.%s' must not contain NUL characters", field)
		}
	}
	if fi.Name == "" {
		return errors.New("'framework_info.name' is required")
	}
	if fi.FailoverTimeout != nil {
		v := float64(*fi.FailoverTimeout)
		if v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("'framework_info.failover_timeout' must be a non-negative number of seconds, got %v", v)
		}
	}
	if fi.HasCapability(mesos.CapMultiRole) && fi.Role != "" {
		return errors.New("'framework_info.role' must not be set together with the MULTI_ROLE capability; use 'roles'")
	}
	seen := map[string]bool{}
	for _, r := range fi.EffectiveRoles() {
		if err := validateRole(r); err != nil {
			return fmt.Errorf("'framework_info.roles': %w", err)
		}
		if seen[r] {
			return fmt.Errorf("'framework_info.roles': role %q listed twice", r)
		}
		seen[r] = true
	}
	if fi.ID != nil && fi.ID.Value == "" {
		return errors.New("'framework_info.id.value' must not be empty")
	}
	return nil
}

// validateCall checks that a call carries the body its type needs. It does
// not look at master state. The messages follow Mesos' wording.
func validateCall(c *mesos.Call) error {
	if c.Type == "" {
		return errors.New("Expecting 'type' to be present")
	}
	if c.Type != mesos.CallSubscribe && (c.FrameworkID == nil || c.FrameworkID.Value == "") {
		return errors.New("Expecting 'framework_id' to be present")
	}
	need := func(ok bool, field string) error {
		if !ok {
			return fmt.Errorf("Expecting '%s' to be present", field)
		}
		return nil
	}
	switch c.Type {
	case mesos.CallSubscribe:
		if err := need(c.Subscribe != nil, "subscribe"); err != nil {
			return err
		}
		if err := validateFrameworkInfo(&c.Subscribe.FrameworkInfo); err != nil {
			return err
		}
		if c.FrameworkID != nil && c.FrameworkID.Value != "" {
			if c.Subscribe.FrameworkInfo.ID == nil || c.Subscribe.FrameworkInfo.ID.Value != c.FrameworkID.Value {
				return errors.New("'framework_id' differs from 'subscribe.framework_info.id'")
			}
		}
		return validateRoleList(c.Subscribe.SuppressedRoles, "subscribe.suppressed_roles")
	case mesos.CallAccept:
		if err := need(c.Accept != nil, "accept"); err != nil {
			return err
		}
		if err := validateFilters(c.Accept.Filters, "accept.filters"); err != nil {
			return err
		}
		for i, op := range c.Accept.Operations {
			switch op.Type {
			case mesos.OpLaunch:
				if op.Launch == nil {
					return fmt.Errorf("'accept.operations[%d]': LAUNCH without 'launch'", i)
				}
			case "":
				return fmt.Errorf("'accept.operations[%d].type' is required", i)
			default:
				return fmt.Errorf("'accept.operations[%d]': offer operation %s is not supported (only LAUNCH)", i, op.Type)
			}
		}
		return nil
	case mesos.CallDecline:
		if err := need(c.Decline != nil, "decline"); err != nil {
			return err
		}
		return validateFilters(c.Decline.Filters, "decline.filters")
	case mesos.CallKill:
		if err := need(c.Kill != nil, "kill"); err != nil {
			return err
		}
		return need(c.Kill.TaskID.Value != "", "kill.task_id")
	case mesos.CallShutdown:
		if err := need(c.Shutdown != nil, "shutdown"); err != nil {
			return err
		}
		return need(c.Shutdown.ExecutorID.Value != "", "shutdown.executor_id")
	case mesos.CallAcknowledge:
		if err := need(c.Acknowledge != nil, "acknowledge"); err != nil {
			return err
		}
		a := c.Acknowledge
		if a.TaskID.Value == "" || a.AgentID.Value == "" {
			return errors.New("'acknowledge' needs 'task_id' and 'agent_id'")
		}
		if b, err := base64.StdEncoding.DecodeString(a.UUID); err != nil || len(b) != 16 {
			return fmt.Errorf("'acknowledge.uuid' %q is not a base64-encoded 16-byte UUID", a.UUID)
		}
		return nil
	case mesos.CallReconcile:
		if c.Reconcile == nil {
			return nil // an absent body is an implicit reconciliation
		}
		for i, t := range c.Reconcile.Tasks {
			if t.TaskID.Value == "" {
				return fmt.Errorf("'reconcile.tasks[%d].task_id' is required", i)
			}
		}
		return nil
	case mesos.CallMessage:
		if err := need(c.Message != nil, "message"); err != nil {
			return err
		}
		if _, err := base64.StdEncoding.DecodeString(c.Message.Data); err != nil {
			return errors.New("'message.data' is not valid base64")
		}
		return nil
	case mesos.CallUpdateFramework:
		if err := need(c.UpdateFramework != nil, "update_framework"); err != nil {
			return err
		}
		fi := &c.UpdateFramework.FrameworkInfo
		if fi.ID == nil || fi.ID.Value != c.FrameworkID.Value {
			return errors.New("'update_framework.framework_info.id' must equal 'framework_id'")
		}
		if err := validateFrameworkInfo(fi); err != nil {
			return err
		}
		return validateRoleList(c.UpdateFramework.SuppressedRoles, "update_framework.suppressed_roles")
	case mesos.CallRevive:
		if c.Revive != nil {
			return validateRoleList(c.Revive.Roles, "revive.roles")
		}
		return nil
	case mesos.CallSuppress:
		if c.Suppress != nil {
			return validateRoleList(c.Suppress.Roles, "suppress.roles")
		}
		return nil
	case mesos.CallTeardown, mesos.CallRequest, mesos.CallAcceptInverseOffers, mesos.CallDeclineInverseOffers:
		return nil
	}
	return errUnsupportedCall
}

var errUnsupportedCall = errors.New("unsupported call type")

func validateRoleList(roles []string, field string) error {
	for _, r := range roles {
		if err := validateRole(r); err != nil {
			return fmt.Errorf("'%s': %w", field, err)
		}
	}
	return nil
}

func validateFilters(f *mesos.Filters, field string) error {
	if f == nil || f.RefuseSeconds == nil {
		return nil
	}
	v := float64(*f.RefuseSeconds)
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return fmt.Errorf("'%s.refuse_seconds' must be a finite number", field)
	}
	return nil
}

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
func checkTask(t *mesos.TaskInfo, agentID, role string, format mesos.ResourceFormat, available resource.Resources, existing func(string) bool) taskCheck {
	bad := func(format string, args ...any) taskCheck {
		return taskCheck{reason: fmt.Sprintf(format, args...)}
	}
	id := t.TaskID.Value
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
	case t.Executor != nil:
		return bad("Task %q sets 'executor': custom executors are not supported; use 'command'", id)
	case t.Command == nil:
		return bad("Task %q must set 'command'", id)
	case t.Container != nil:
		return bad("Task %q sets 'container': containerizers are not supported", id)
	case len(t.Command.URIs) > 0:
		return bad("Task %q sets 'command.uris': fetching URIs is not supported", id)
	case t.Command.IsShell() && t.Command.Value == "":
		return bad("Task %q: shell command 'command.value' is empty", id)
	case !t.Command.IsShell() && t.Command.Value == "":
		return bad("Task %q: 'command.value' (the program to run) is empty", id)
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
	if !available.Contains(res) {
		return bad("Task %q uses more resources than offered: missing %s (offered and unused: %s)", id, available.Missing(res), available)
	}
	return taskCheck{resources: res}
}

// agentStatus is the master's view of an agent for reconciliation.
type agentStatus int

const (
	agentUnknown     agentStatus = iota
	agentRecovered               // in the registry, not yet re-registered after this master started
	agentRegistered              // admitted and connected (or within its ping window)
	agentUnreachable             // marked unreachable
	agentGone                    // marked gone by an operator
)

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
