package apiclient

import (
	"context"
	"net/http"
	"strconv"
)

// State is the part of the master's GET /state that corral's tools read.
type State struct {
	Version     string      `json:"version"`
	Leader      string      `json:"leader"`
	Hostname    string      `json:"hostname"`
	ElectedTime float64     `json:"elected_time"`
	Activated   int         `json:"activated_slaves"`
	Unreachable int         `json:"unreachable_slaves"`
	Agents      []Agent     `json:"slaves"`
	Frameworks  []Framework `json:"frameworks"`
	Completed   []Framework `json:"completed_frameworks"`
	Offers      int         `json:"outstanding_offers"`
	Quotas      []Quota     `json:"quotas"`
}

// Quota is a role's quota in the master's /state: guarantees and limits
// by scalar resource name.
type Quota struct {
	Role       string `json:"role"`
	Guarantees map[string]struct {
		Value float64 `json:"value"`
	} `json:"guarantees"`
	Limits map[string]struct {
		Value float64 `json:"value"`
	} `json:"limits"`
}

// Agent is an agent in the master's /state.
type Agent struct {
	ID        string    `json:"id"`
	Hostname  string    `json:"hostname"`
	Endpoint  string    `json:"endpoint"`
	State     string    `json:"state"`
	Active    bool      `json:"active"`
	Resources Resources `json:"resources"`
	Used      Resources `json:"used_resources"`
	Cgroups   string    `json:"cgroups"`
	Version   string    `json:"version"`
	TaskCount int       `json:"task_count"`
	// Deactivated agents get no offers; DrainInfo is set while and
	// after they are drained.
	Deactivated bool       `json:"deactivated"`
	DrainInfo   *DrainInfo `json:"drain_info,omitempty"`
}

// DrainInfo is an agent's drain in the master's /state.
type DrainInfo struct {
	State  string `json:"state"` // DRAINING or DRAINED
	Config struct {
		MaxGracePeriod *struct {
			Nanoseconds int64 `json:"nanoseconds"`
		} `json:"max_grace_period,omitempty"`
		MarkGone bool `json:"mark_gone"`
	} `json:"config"`
}

// Framework is a framework in the master's /state.
type Framework struct {
	ID          string      `json:"id"`
	Name        string      `json:"name"`
	State       string      `json:"state"`
	Active      bool        `json:"active"`
	Tasks       []TaskState `json:"tasks"`
	Unreachable []TaskState `json:"unreachable_tasks"`
	Completed   []TaskState `json:"completed_tasks"`
}

// TaskState is a task in the master's /state.
type TaskState struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	FrameworkID string    `json:"framework_id"`
	AgentID     string    `json:"slave_id"`
	State       string    `json:"state"`
	Resources   Resources `json:"resources"`
	Sandbox     string    `json:"sandbox"`
	Healthy     *bool     `json:"healthy"`
	Message     string    `json:"message"`
}

// Resources is a resource summary as the master's /state shows it:
// scalars by name ("cpus", "mem" in MB, "disk" in MB, "gpus") and "ports"
// as ranges text ("[31000-31099]").
type Resources map[string]any

// Scalar is the value of the scalar resource name, 0 when absent.
func (r Resources) Scalar(name string) float64 {
	switch v := r[name].(type) {
	case float64:
		return v
	case string:
		f, _ := strconv.ParseFloat(v, 64)
		return f
	}
	return 0
}

// Master is the client of the master's operator endpoints.
type Master struct{ *Client }

// NewMaster returns the client of the master at base.
func NewMaster(base string, hc *http.Client) Master {
	return Master{New("master", base, hc)}
}

// State is GET /state of the master at the client's base. A standby
// answers with who leads instead (see its "leader_url"): callers that may
// reach a standby read the leader's state themselves.
func (m Master) State(ctx context.Context) (State, error) {
	var out State
	err := m.GetJSON(ctx, "/state", &out)
	return out, err
}
