package mesos

import (
	"fmt"
	"net"
	"strconv"
)

// ID is the shape of every Mesos identifier message (FrameworkID, AgentID,
// OfferID, TaskID, ExecutorID): {"value": "..."}.
type ID struct {
	Value string `json:"value"`
}

// Label is one key/value pair of a Labels message.
type Label struct {
	Key   string `json:"key"`
	Value string `json:"value,omitempty"`
}

// Labels is the proto Labels message.
type Labels struct {
	Labels []Label `json:"labels"`
}

// ValueType is the proto Value.Type enum.
type ValueType string

// Value types.
const (
	Scalar ValueType = "SCALAR"
	Ranges ValueType = "RANGES"
	Set    ValueType = "SET"
	Text   ValueType = "TEXT"
)

// ScalarValue is Value.Scalar.
type ScalarValue struct {
	Value Float `json:"value"`
}

// Range is one inclusive Value.Range.
type Range struct {
	Begin Uint `json:"begin"`
	End   Uint `json:"end"`
}

// RangesValue is Value.Ranges.
type RangesValue struct {
	Range []Range `json:"range"`
}

// SetValue is Value.Set.
type SetValue struct {
	Item []string `json:"item"`
}

// TextValue is Value.Text.
type TextValue struct {
	Value string `json:"value"`
}

// AllocationInfo says which role a resource or offer is allocated to.
type AllocationInfo struct {
	Role string `json:"role,omitempty"`
}

// ReservationInfo is one entry of Resource.reservations, or the legacy
// Resource.reservation (which sets only Principal and Labels).
type ReservationInfo struct {
	Type      string  `json:"type,omitempty"`
	Role      string  `json:"role,omitempty"`
	Principal string  `json:"principal,omitempty"`
	Labels    *Labels `json:"labels,omitempty"`
}

// Resource is the proto Resource message (the subset corral uses). Role
// and Reservation are the pre-refinement reservation format, Reservations
// the post-refinement one; see ResourceFormat.
type Resource struct {
	Name           string            `json:"name"`
	Type           ValueType         `json:"type"`
	Scalar         *ScalarValue      `json:"scalar,omitempty"`
	Ranges         *RangesValue      `json:"ranges,omitempty"`
	Set            *SetValue         `json:"set,omitempty"`
	Role           string            `json:"role,omitempty"`
	Reservation    *ReservationInfo  `json:"reservation,omitempty"`
	AllocationInfo *AllocationInfo   `json:"allocation_info,omitempty"`
	Reservations   []ReservationInfo `json:"reservations,omitempty"`
}

// Attribute is the proto Attribute message.
type Attribute struct {
	Name   string       `json:"name"`
	Type   ValueType    `json:"type"`
	Scalar *ScalarValue `json:"scalar,omitempty"`
	Ranges *RangesValue `json:"ranges,omitempty"`
	Set    *SetValue    `json:"set,omitempty"`
	Text   *TextValue   `json:"text,omitempty"`
}

// Capability is a FrameworkInfo.Capability; Type is e.g. "MULTI_ROLE",
// "PARTITION_AWARE", "TASK_KILLING_STATE".
type Capability struct {
	Type string `json:"type"`
}

// Framework capability names corral understands.
const (
	CapMultiRole             = "MULTI_ROLE"
	CapPartitionAware        = "PARTITION_AWARE"
	CapTaskKillingState      = "TASK_KILLING_STATE"
	CapRegionAware           = "REGION_AWARE"
	CapReservationRefinement = "RESERVATION_REFINEMENT"
)

// FrameworkInfo is the proto FrameworkInfo message.
type FrameworkInfo struct {
	User            string       `json:"user"`
	Name            string       `json:"name"`
	ID              *ID          `json:"id,omitempty"`
	FailoverTimeout *Float       `json:"failover_timeout,omitempty"`
	Checkpoint      *bool        `json:"checkpoint,omitempty"`
	Role            string       `json:"role,omitempty"`
	Roles           []string     `json:"roles,omitempty"`
	Hostname        string       `json:"hostname,omitempty"`
	Principal       string       `json:"principal,omitempty"`
	WebuiURL        string       `json:"webui_url,omitempty"`
	Capabilities    []Capability `json:"capabilities,omitempty"`
	Labels          *Labels      `json:"labels,omitempty"`
}

// HasCapability reports whether the framework declared capability c.
func (f *FrameworkInfo) HasCapability(c string) bool {
	for _, x := range f.Capabilities {
		if x.Type == c {
			return true
		}
	}
	return false
}

// EffectiveRoles returns the roles a framework subscribes with: Roles for a
// MULTI_ROLE framework, otherwise the single legacy Role, defaulting to "*".
func (f *FrameworkInfo) EffectiveRoles() []string {
	if f.HasCapability(CapMultiRole) {
		if len(f.Roles) == 0 {
			return []string{"*"}
		}
		return f.Roles
	}
	if f.Role != "" {
		return []string{f.Role}
	}
	if len(f.Roles) > 0 { // tolerate frameworks that set roles without the capability
		return f.Roles
	}
	return []string{"*"}
}

// Address is the proto Address message.
type Address struct {
	Hostname string `json:"hostname,omitempty"`
	IP       string `json:"ip,omitempty"`
	Port     Int    `json:"port"`
}

// MasterInfo is the proto MasterInfo message.
type MasterInfo struct {
	ID       string   `json:"id"`
	IP       uint32   `json:"ip"`
	Port     Int      `json:"port"`
	PID      string   `json:"pid,omitempty"`
	Hostname string   `json:"hostname,omitempty"`
	Version  string   `json:"version,omitempty"`
	Address  *Address `json:"address,omitempty"`
}

// BaseURL is the HTTP base URL ("http://host:port") of the master the
// info describes: its address' hostname (else its IP) and port.
func (mi MasterInfo) BaseURL() (string, error) { return mi.BaseURLScheme("http") }

// BaseURLScheme is BaseURL with another scheme: MasterInfo does not say
// whether a master speaks TLS (in Mesos, as in corral, a cluster does or
// does not), so a client that does uses "https".
func (mi MasterInfo) BaseURLScheme(scheme string) (string, error) {
	host, port := mi.Hostname, int64(mi.Port)
	if mi.Address != nil {
		if mi.Address.Hostname != "" {
			host = mi.Address.Hostname
		} else if mi.Address.IP != "" {
			host = mi.Address.IP
		}
		if mi.Address.Port != 0 {
			port = int64(mi.Address.Port)
		}
	}
	if host == "" || port <= 0 || port > 65535 {
		return "", fmt.Errorf("master info %q has no usable address", mi.ID)
	}
	return scheme + "://" + net.JoinHostPort(host, strconv.FormatInt(port, 10)), nil
}

// Offer is the proto Offer message.
type Offer struct {
	ID             ID              `json:"id"`
	FrameworkID    ID              `json:"framework_id"`
	AgentID        ID              `json:"agent_id"`
	Hostname       string          `json:"hostname"`
	URL            *URL            `json:"url,omitempty"`
	AllocationInfo *AllocationInfo `json:"allocation_info,omitempty"`
	Resources      []Resource      `json:"resources"`
	Attributes     []Attribute     `json:"attributes,omitempty"`
	ExecutorIDs    []ID            `json:"executor_ids,omitempty"`
}

// URL is the proto URL message (used for an offer's agent endpoint).
type URL struct {
	Scheme  string  `json:"scheme"`
	Address Address `json:"address"`
	Path    string  `json:"path,omitempty"`
}

// Variable is one Environment variable: a plain Value (type "" or
// VALUE), or (type SECRET) a Secret the agent resolves at launch.
type Variable struct {
	Name   string  `json:"name"`
	Type   string  `json:"type,omitempty"`
	Value  string  `json:"value,omitempty"`
	Secret *Secret `json:"secret,omitempty"`
}

// Variable types.
const (
	VariableValue  = "VALUE"
	VariableSecret = "SECRET"
)

// Secret is Mesos' Secret: a REFERENCE to a secret stored in the master
// (by name; key is not supported), or an inline VALUE (base64 data in
// JSON).
type Secret struct {
	Type      string           `json:"type"`
	Reference *SecretReference `json:"reference,omitempty"`
	Value     *SecretValue     `json:"value,omitempty"`
}

// Secret types.
const (
	SecretReferenceType = "REFERENCE"
	SecretValueType     = "VALUE"
)

// SecretReference names a stored secret.
type SecretReference struct {
	Name string `json:"name"`
	Key  string `json:"key,omitempty"`
}

// SecretValue is a secret given inline.
type SecretValue struct {
	Data []byte `json:"data"`
}

// SecretRefs returns the names of the stored secrets the environment
// references, in order, without duplicates.
func (e *Environment) SecretRefs() []string {
	if e == nil {
		return nil
	}
	var out []string
	seen := map[string]bool{}
	for _, v := range e.Variables {
		if v.Type == VariableSecret && v.Secret != nil && v.Secret.Reference != nil && !seen[v.Secret.Reference.Name] {
			seen[v.Secret.Reference.Name] = true
			out = append(out, v.Secret.Reference.Name)
		}
	}
	return out
}

// Environment is the proto Environment message.
type Environment struct {
	Variables []Variable `json:"variables"`
}

// CommandURI is CommandInfo.URI: an artifact the agent fetches into the
// task's sandbox before the command starts (see uri.go and the agent's
// fetcher). Absent booleans take Mesos' defaults: Executable false,
// Extract true, Cache false.
type CommandURI struct {
	Value      string `json:"value"`
	Executable *bool  `json:"executable,omitempty"`
	Extract    *bool  `json:"extract,omitempty"`
	Cache      *bool  `json:"cache,omitempty"`
	OutputFile string `json:"output_file,omitempty"`
}

// CommandInfo is the proto CommandInfo message. With Shell (default true)
// Value is run by /bin/sh -c; otherwise Value is the program and Arguments
// its argv (argv[0] included, as in Mesos).
type CommandInfo struct {
	URIs        []CommandURI `json:"uris,omitempty"`
	Environment *Environment `json:"environment,omitempty"`
	Shell       *bool        `json:"shell,omitempty"`
	Value       string       `json:"value,omitempty"`
	Arguments   []string     `json:"arguments,omitempty"`
	User        string       `json:"user,omitempty"`
}

// IsShell reports whether the command runs through the shell (the default).
func (c *CommandInfo) IsShell() bool { return c.Shell == nil || *c.Shell }

// ExecutorInfo is accepted in TaskInfo only to be rejected: corral runs
// command tasks with its built-in executor.
type ExecutorInfo struct {
	ExecutorID ID           `json:"executor_id"`
	Command    *CommandInfo `json:"command,omitempty"`
}

// DurationInfo is the proto DurationInfo message.
type DurationInfo struct {
	Nanoseconds Int `json:"nanoseconds"`
}

// KillPolicy is the proto KillPolicy message.
type KillPolicy struct {
	GracePeriod *DurationInfo `json:"grace_period,omitempty"`
}

// HTTPCheckInfo is HealthCheck.HTTPCheckInfo.
type HTTPCheckInfo struct {
	Protocol string `json:"protocol,omitempty"`
	Scheme   string `json:"scheme,omitempty"`
	Port     Int    `json:"port"`
	Path     string `json:"path,omitempty"`
	Statuses []Int  `json:"statuses,omitempty"`
}

// TCPCheckInfo is HealthCheck.TCPCheckInfo.
type TCPCheckInfo struct {
	Protocol string `json:"protocol,omitempty"`
	Port     Int    `json:"port"`
}

// HealthCheck is the proto HealthCheck message; Type is COMMAND, HTTP or TCP.
type HealthCheck struct {
	Type                string         `json:"type,omitempty"`
	Command             *CommandInfo   `json:"command,omitempty"`
	HTTP                *HTTPCheckInfo `json:"http,omitempty"`
	TCP                 *TCPCheckInfo  `json:"tcp,omitempty"`
	DelaySeconds        *Float         `json:"delay_seconds,omitempty"`
	IntervalSeconds     *Float         `json:"interval_seconds,omitempty"`
	TimeoutSeconds      *Float         `json:"timeout_seconds,omitempty"`
	ConsecutiveFailures *Int           `json:"consecutive_failures,omitempty"`
	GracePeriodSeconds  *Float         `json:"grace_period_seconds,omitempty"`
}

// TaskInfo is the proto TaskInfo message.
type TaskInfo struct {
	Name        string         `json:"name"`
	TaskID      ID             `json:"task_id"`
	AgentID     ID             `json:"agent_id"`
	Resources   []Resource     `json:"resources"`
	Executor    *ExecutorInfo  `json:"executor,omitempty"`
	Command     *CommandInfo   `json:"command,omitempty"`
	Container   *ContainerInfo `json:"container,omitempty"`
	HealthCheck *HealthCheck   `json:"health_check,omitempty"`
	KillPolicy  *KillPolicy    `json:"kill_policy,omitempty"`
	Data        string         `json:"data,omitempty"`
	Labels      *Labels        `json:"labels,omitempty"`
	// Limits are limits above the task's resources (its requests) for
	// cpus and mem, to burst into idle capacity; +Inf is no limit.
	Limits map[string]Limit `json:"limits,omitempty"`
}

// TaskState is the proto TaskState enum.
type TaskState string

// Task states.
const (
	TaskStaging        TaskState = "TASK_STAGING"
	TaskStarting       TaskState = "TASK_STARTING"
	TaskRunning        TaskState = "TASK_RUNNING"
	TaskKilling        TaskState = "TASK_KILLING"
	TaskFinished       TaskState = "TASK_FINISHED"
	TaskFailed         TaskState = "TASK_FAILED"
	TaskKilled         TaskState = "TASK_KILLED"
	TaskError          TaskState = "TASK_ERROR"
	TaskLost           TaskState = "TASK_LOST"
	TaskDropped        TaskState = "TASK_DROPPED"
	TaskUnreachable    TaskState = "TASK_UNREACHABLE"
	TaskGone           TaskState = "TASK_GONE"
	TaskGoneByOperator TaskState = "TASK_GONE_BY_OPERATOR"
	TaskUnknown        TaskState = "TASK_UNKNOWN"
)

// Terminal reports whether s is a terminal task state. TASK_LOST is treated
// as terminal by the agent and master bookkeeping, as in Mesos.
func (s TaskState) Terminal() bool {
	switch s {
	case TaskFinished, TaskFailed, TaskKilled, TaskError, TaskLost, TaskDropped, TaskGone, TaskGoneByOperator:
		return true
	}
	return false
}

// PartitionAwareOnly reports whether s is sent only to PARTITION_AWARE
// frameworks; others receive TASK_LOST in its place.
func (s TaskState) PartitionAwareOnly() bool {
	switch s {
	case TaskDropped, TaskUnreachable, TaskGone, TaskGoneByOperator, TaskUnknown:
		return true
	}
	return false
}

// Status sources.
const (
	SourceMaster   = "SOURCE_MASTER"
	SourceAgent    = "SOURCE_AGENT"
	SourceExecutor = "SOURCE_EXECUTOR"
)

// Status reasons corral emits (names from the proto TaskStatus.Reason).
const (
	ReasonCommandExecutorFailed  = "REASON_COMMAND_EXECUTOR_FAILED"
	ReasonContainerLimitation    = "REASON_CONTAINER_LIMITATION"
	ReasonContainerLimitationMem = "REASON_CONTAINER_LIMITATION_MEMORY"
	ReasonContainerLaunchFailed  = "REASON_CONTAINER_LAUNCH_FAILED"
	ReasonExecutorTerminated     = "REASON_EXECUTOR_TERMINATED"
	ReasonFrameworkRemoved       = "REASON_FRAMEWORK_REMOVED"
	ReasonAgentRemoved           = "REASON_AGENT_REMOVED"
	ReasonAgentRestarted         = "REASON_AGENT_RESTARTED"
	ReasonAgentUnknown           = "REASON_AGENT_UNKNOWN"
	ReasonAgentDisconnected      = "REASON_AGENT_DISCONNECTED"
	ReasonAgentDraining          = "REASON_AGENT_DRAINING"
	ReasonInvalidOffers          = "REASON_INVALID_OFFERS"
	ReasonReconciliation         = "REASON_RECONCILIATION"
	ReasonTaskInvalid            = "REASON_TASK_INVALID"
	ReasonTaskUnauthorized       = "REASON_TASK_UNAUTHORIZED"
	ReasonTaskUnknown            = "REASON_TASK_UNKNOWN"
	ReasonTaskKilledDuringLaunch = "REASON_TASK_KILLED_DURING_LAUNCH"
	ReasonResourcesUnknown       = "REASON_RESOURCES_UNKNOWN"
	ReasonMasterDisconnected     = "REASON_MASTER_DISCONNECTED"
	ReasonExecutorUnregistered   = "REASON_EXECUTOR_UNREGISTERED"
	// ReasonTaskHealthCheckStatusUpdated marks a TASK_RUNNING update that
	// reports a change of the task's health (its healthy field).
	ReasonTaskHealthCheckStatusUpdated = "REASON_TASK_HEALTH_CHECK_STATUS_UPDATED"
)

// TaskStatus is the proto TaskStatus message. UUID is base64 (proto bytes);
// a status with a UUID must be acknowledged, one without must not.
type TaskStatus struct {
	TaskID          ID        `json:"task_id"`
	State           TaskState `json:"state"`
	Message         string    `json:"message,omitempty"`
	Source          string    `json:"source,omitempty"`
	Reason          string    `json:"reason,omitempty"`
	Data            string    `json:"data,omitempty"`
	AgentID         *ID       `json:"agent_id,omitempty"`
	ExecutorID      *ID       `json:"executor_id,omitempty"`
	Timestamp       Float     `json:"timestamp,omitempty"`
	UUID            string    `json:"uuid,omitempty"`
	Healthy         *bool     `json:"healthy,omitempty"`
	Labels          *Labels   `json:"labels,omitempty"`
	UnreachableTime *TimeInfo `json:"unreachable_time,omitempty"`
}

// TimeInfo is the proto TimeInfo message.
type TimeInfo struct {
	Nanoseconds Int `json:"nanoseconds"`
}

// Filters is the proto Filters message.
type Filters struct {
	RefuseSeconds *Float `json:"refuse_seconds,omitempty"`
}
