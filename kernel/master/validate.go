package master

import (
	"corral/kernel/resource"
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"corral/kernel/mesos"
)

// Bounds on what a scheduler call may carry. Mesos sets none of these
// (its JSON is bounded only by the body size); they keep nonsense out of
// the registry, the console and the arithmetic.
const (
	// maxFailoverTimeout bounds framework_info.failover_timeout. A year is
	// far beyond any real failover (Marathon and Chronos default to a
	// week) and is what Mesos already caps refuse_seconds at; larger
	// values only risk overflowing time.Duration (1e308 s became a
	// negative duration, and the framework was removed as soon as it
	// disconnected).
	maxFailoverTimeout = 365 * 24 * time.Hour
	// maxRoleBytes bounds a role name. Mesos has no limit; 255 bytes is
	// the usual limit of a name (a file name, a DNS name) and roles
	// appear in URLs, metrics labels and the registry.
	maxRoleBytes = 255
	// maxNameBytes bounds framework_info.name, user and principal: names
	// a person reads in the console, not documents.
	maxNameBytes = 1 << 10
	// maxHostnameBytes bounds framework_info.hostname: a DNS name is at
	// most 253 characters.
	maxHostnameBytes = 255
	// maxWebuiURLBytes bounds framework_info.webui_url, about the longest
	// URL browsers and proxies are known to handle everywhere.
	maxWebuiURLBytes = 4 << 10
	// maxTaskIDBytes bounds a launched task's id, as Mesos' task id
	// validation does: the id names the task's sandbox directory.
	maxTaskIDBytes = 255
)

// validateRole checks a role name with Mesos' rules (src/common/roles.cpp):
// "*" or one or more components separated by single "/"s (none at either
// end), no component ".", ".." or "*" or starting with "-", no whitespace
// or control characters. Corral adds: no backslash, valid UTF-8 (Unicode
// whitespace and control characters are refused too), and at most
// maxRoleBytes bytes.
func validateRole(role string) error {
	switch {
	case role == "":
		return errors.New("role must not be empty")
	case role == "*":
		return nil
	case len(role) > maxRoleBytes:
		return fmt.Errorf("role %.40q… is %d bytes long; the limit is %d", role, len(role), maxRoleBytes)
	case !utf8.ValidString(role):
		return fmt.Errorf("role %q is not valid UTF-8", role)
	case strings.HasPrefix(role, "/") || strings.HasSuffix(role, "/") || strings.Contains(role, "//"):
		return fmt.Errorf("role %q: must not start or end with '/' or contain '//'", role)
	}
	for _, part := range strings.Split(role, "/") {
		switch {
		case part == "." || part == "..":
			return fmt.Errorf("role %q: '.' and '..' are not allowed as components", role)
		case part == "*":
			return fmt.Errorf("role %q: '*' is only allowed as the whole role", role)
		case strings.HasPrefix(part, "-"):
			return fmt.Errorf("role %q: a component must not start with '-'", role)
		}
	}
	for _, r := range role {
		if r == '\\' || unicode.IsSpace(r) || unicode.IsControl(r) {
			return fmt.Errorf("role %q: whitespace, control characters and '\\' are not allowed", role)
		}
	}
	return nil
}

// validateWebuiURL checks framework_info.webui_url: empty, or an absolute
// http or https URL with a host. The console links to it and the master
// proxies to it, so script (javascript:, data:), local (file:) and
// relative URLs are refused.
func validateWebuiURL(s string) error {
	if s == "" {
		return nil
	}
	if len(s) > maxWebuiURLBytes {
		return fmt.Errorf("'framework_info.webui_url' is %d bytes long; the limit is %d", len(s), maxWebuiURLBytes)
	}
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("'framework_info.webui_url' %q is not a URL: %v", s, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Opaque != "" || u.Host == "" || u.Hostname() == "" {
		return fmt.Errorf("'framework_info.webui_url' %q must be an absolute http:// or https:// URL with a host", s)
	}
	return nil
}

// validateFrameworkInfo checks a SUBSCRIBE's or UPDATE_FRAMEWORK's
// FrameworkInfo.
func validateFrameworkInfo(fi *mesos.FrameworkInfo) error {
	if fi.User == "" {
		return errors.New("'framework_info.user' is required")
	}
	for _, f := range []struct {
		field, v string
		max      int
	}{
		{"user", fi.User, maxNameBytes},
		{"name", fi.Name, maxNameBytes},
		{"principal", fi.Principal, maxNameBytes},
		{"hostname", fi.Hostname, maxHostnameBytes},
		{"webui_url", fi.WebuiURL, maxWebuiURLBytes},
		{"role", fi.Role, maxRoleBytes},
	} {
		if strings.ContainsRune(f.v, 0) {
			return fmt.Errorf("'framework_info.%s' must not contain NUL characters", f.field)
		}
		if len(f.v) > f.max {
			return fmt.Errorf("'framework_info.%s' is %d bytes long; the limit is %d", f.field, len(f.v), f.max)
		}
	}
	if fi.Name == "" {
		return errors.New("'framework_info.name' is required")
	}
	if fi.FailoverTimeout != nil {
		v := float64(*fi.FailoverTimeout)
		if !(v >= 0 && v <= maxFailoverTimeout.Seconds()) {
			return fmt.Errorf("'framework_info.failover_timeout' must be between 0 and %.0f seconds (365 days), got %v", maxFailoverTimeout.Seconds(), v)
		}
	}
	if err := validateWebuiURL(fi.WebuiURL); err != nil {
		return err
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
				if err := validateLaunch(op.Launch, fmt.Sprintf("accept.operations[%d].launch", i)); err != nil {
					return err
				}
			case "":
				return fmt.Errorf("'accept.operations[%d].type' is required", i)
			case mesos.OpLaunchGroup:
				return fmt.Errorf("'accept.operations[%d]': LAUNCH_GROUP (a task group run by Mesos' default executor) is not supported: "+
					"launch the tasks with LAUNCH, each with its command, or with a custom executor of yours that runs them together", i)
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
	case mesos.CallAcceptInverseOffers:
		return validateInverseReply(c.AcceptInverseOffers, "accept_inverse_offers")
	case mesos.CallDeclineInverseOffers:
		return validateInverseReply(c.DeclineInverseOffers, "decline_inverse_offers")
	case mesos.CallTeardown, mesos.CallRequest:
		return nil
	}
	return errUnsupportedCall
}

var errUnsupportedCall = errors.New("unsupported call type")

// validateInverseReply checks ACCEPT_INVERSE_OFFERS and
// DECLINE_INVERSE_OFFERS: at least one id, none empty, valid filters.
func validateInverseReply(r *mesos.InverseOfferReply, field string) error {
	if r == nil {
		return fmt.Errorf("Expecting '%s' to be present", field)
	}
	if len(r.InverseOfferIDs) == 0 {
		return fmt.Errorf("'%s.inverse_offer_ids' must name at least one inverse offer", field)
	}
	for i, id := range r.InverseOfferIDs {
		if id.Value == "" {
			return fmt.Errorf("'%s.inverse_offer_ids[%d].value' must not be empty", field, i)
		}
	}
	return validateFilters(r.Filters, field+".filters")
}

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

// validateLaunch checks the numbers in a LAUNCH that the master accounts
// with: task ids within maxTaskIDBytes, scalar amounts finite, not negative
// and at most resource.MaxScalar, ranges with begin <= end. What depends on the
// offer (enough resources, the right agent, a known task id) is the
// core's to check, answered with a TASK_ERROR as in Mesos; these are
// refused with the whole call, so nothing of it is applied.
func validateLaunch(l *mesos.Launch, field string) error {
	for i, t := range l.TaskInfos {
		tf := fmt.Sprintf("%s.task_infos[%d]", field, i)
		if n := len(t.TaskID.Value); n > maxTaskIDBytes {
			return fmt.Errorf("'%s.task_id' is %d bytes long; the limit is %d", tf, n, maxTaskIDBytes)
		}
		for j, r := range t.Resources {
			rf := fmt.Sprintf("%s.resources[%d]", tf, j)
			if r.Scalar != nil {
				v := float64(r.Scalar.Value)
				if !(v >= 0 && v <= resource.MaxScalar) {
					return fmt.Errorf("'%s.scalar.value' (%s) must be between 0 and %g, got %v", rf, r.Name, float64(resource.MaxScalar), v)
				}
			}
			if r.Ranges != nil {
				for k, x := range r.Ranges.Range {
					if x.Begin > x.End {
						return fmt.Errorf("'%s.ranges.range[%d]' (%s): begin %d is after end %d", rf, k, r.Name, x.Begin, x.End)
					}
				}
			}
		}
	}
	return nil
}
