package mesos

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
)

// LimitValue is a resource limit: a number, or +Inf for none, written
// "Infinity" in JSON as Mesos writes it.
type LimitValue float64

// UnmarshalJSON reads a number, a numeric string, or "Infinity".
func (v *LimitValue) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		if s == "Infinity" || s == "inf" || s == "+Inf" {
			*v = LimitValue(math.Inf(1))
			return nil
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return fmt.Errorf("invalid limit %q (want a number or \"Infinity\")", s)
		}
		*v = LimitValue(f)
		return nil
	}
	var f float64
	if err := json.Unmarshal(b, &f); err != nil {
		return err
	}
	*v = LimitValue(f)
	return nil
}

// MarshalJSON writes +Inf as "Infinity".
func (v LimitValue) MarshalJSON() ([]byte, error) {
	if math.IsInf(float64(v), 1) {
		return []byte(`"Infinity"`), nil
	}
	return json.Marshal(float64(v))
}

// Limit is one entry of TaskInfo.limits (a Value.Scalar).
type Limit struct {
	Value LimitValue `json:"value" pb:"1,req,inf"`
}

// LimitsProblem validates a task's limits against its requests (cpus and
// mem of its resources, 0 when absent), as Mesos does: only cpus and mem,
// each with a request of its own, and at least that request (+Inf always
// passes). It returns "" or what is wrong.
func LimitsProblem(limits map[string]Limit, cpus, mem float64) string {
	for _, name := range []string{"cpus", "mem"} {
		l, ok := limits[name]
		if !ok {
			continue
		}
		req := cpus
		if name == "mem" {
			req = mem
		}
		v := float64(l.Value)
		switch {
		case math.IsNaN(v) || v <= 0:
			return fmt.Sprintf("'limits.%s' must be a positive number or Infinity", name)
		case req <= 0:
			return fmt.Sprintf("'limits.%s' needs a %s request in the task's resources", name, name)
		case !math.IsInf(v, 1) && v < req:
			return fmt.Sprintf("'limits.%s' %g is below the task's %s request %g", name, v, name, req)
		}
	}
	for name := range limits {
		if name != "cpus" && name != "mem" {
			return fmt.Sprintf("'limits.%s': only cpus and mem may have limits", name)
		}
	}
	return ""
}
