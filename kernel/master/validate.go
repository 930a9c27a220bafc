package master

import (
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"strings"

	"corral/kernel/mesos"
)

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
