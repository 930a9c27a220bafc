package mesos

import (
	"fmt"
	"net"
	"strconv"
)

// ID is the shape of every Mesos identifier message (FrameworkID, AgentID,
// OfferID, TaskID, ExecutorID): {"value": "..."}.
type ID struct {
	Value string `json:"value" pb:"1,req"`
}

// Label is one key/value pair of a Labels message.
type Label struct {
	Key   string `json:"key" pb:"1,req"`
	Value string `json:"value,omitempty" pb:"2"`
}

// Labels is the proto Labels message.
type Labels struct {
	Labels []Label `json:"labels" pb:"1"`
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
	Value Float `json:"value" pb:"1,req"`
}

// Range is one inclusive Value.Range.
type Range struct {
	Begin Uint `json:"begin" pb:"1,req"`
	End   Uint `json:"end" pb:"2,req"`
}

// RangesValue is Value.Ranges.
type RangesValue struct {
	Range []Range `json:"range" pb:"1"`
}

// SetValue is Value.Set.
type SetValue struct {
	Item []string `json:"item" pb:"1"`
}

// TextValue is Value.Text.
type TextValue struct {
	Value string `json:"value" pb:"1,req"`
}

// AllocationInfo says which role a resource or offer is allocated to.
type AllocationInfo struct {
	Role string `json:"role,omitempty" pb:"1"`
}

// ReservationInfo is one entry of Resource.reservations, or the legacy
// Resource.reservation (which sets only Principal and Labels).
type ReservationInfo struct {
	Type      string  `json:"type,omitempty" pb:"4,enum=ReservationType"`
	Role      string  `json:"role,omitempty" pb:"3"`
	Principal string  `json:"principal,omitempty" pb:"1"`
	Labels    *Labels `json:"labels,omitempty" pb:"2"`
}

// Resource is the proto Resource message (the subset corral uses). Role
// and Reservation are the pre-refinement reservation format, Reservations
// the post-refinement one; see ResourceFormat.
type Resource struct {
	Name           string            `json:"name" pb:"1,req"`
	Type           ValueType         `json:"type" pb:"2,req,enum=ValueType"`
	Scalar         *ScalarValue      `json:"scalar,omitempty" pb:"3"`
	Ranges         *RangesValue      `json:"ranges,omitempty" pb:"4"`
	Set            *SetValue         `json:"set,omitempty" pb:"5"`
	Role           string            `json:"role,omitempty" pb:"6"`
	Reservation    *ReservationInfo  `json:"reservation,omitempty" pb:"8"`
	AllocationInfo *AllocationInfo   `json:"allocation_info,omitempty" pb:"11"`
	Reservations   []ReservationInfo `json:"reservations,omitempty" pb:"13"`
}

// AttrContainerizers is the attribute the master adds to every offer of a
// corral agent (unless the agent's own attributes name it): a TEXT list
// of the containerizers the agent runs tasks in, such as "docker,mesos",
// for frameworks to place DOCKER tasks only where they can run and for
// constraints (["corral.containerizers", "LIKE", ".*docker.*"]).
const AttrContainerizers = "corral.containerizers"

// Attribute is the proto Attribute message.
type Attribute struct {
	Name   string       `json:"name" pb:"1,req"`
	Type   ValueType    `json:"type" pb:"2,req,enum=ValueType"`
	Scalar *ScalarValue `json:"scalar,omitempty" pb:"3"`
	Ranges *RangesValue `json:"ranges,omitempty" pb:"4"`
	Set    *SetValue    `json:"set,omitempty" pb:"6"`
	Text   *TextValue   `json:"text,omitempty" pb:"5"`
}

// Capability is a FrameworkInfo.Capability; Type is e.g. "MULTI_ROLE",
// "PARTITION_AWARE", "TASK_KILLING_STATE".
type Capability struct {
	Type string `json:"type" pb:"1,enum=Capability"`
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
	User            string       `json:"user" pb:"1,req"`
	Name            string       `json:"name" pb:"2,req"`
	ID              *ID          `json:"id,omitempty" pb:"3"`
	FailoverTimeout *Float       `json:"failover_timeout,omitempty" pb:"4"`
	Checkpoint      *bool        `json:"checkpoint,omitempty" pb:"5"`
	Role            string       `json:"role,omitempty" pb:"6"`
	Roles           []string     `json:"roles,omitempty" pb:"12"`
	Hostname        string       `json:"hostname,omitempty" pb:"7"`
	Principal       string       `json:"principal,omitempty" pb:"8"`
	WebuiURL        string       `json:"webui_url,omitempty" pb:"9"`
	Capabilities    []Capability `json:"capabilities,omitempty" pb:"10"`
	Labels          *Labels      `json:"labels,omitempty" pb:"11"`
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
	Hostname string `json:"hostname,omitempty" pb:"1"`
	IP       string `json:"ip,omitempty" pb:"2"`
	Port     Int    `json:"port" pb:"3,req"`
}

// MasterInfo is the proto MasterInfo message.
type MasterInfo struct {
	ID       string   `json:"id" pb:"1,req"`
	IP       uint32   `json:"ip" pb:"2,req"`
	Port     Int      `json:"port" pb:"3,req"`
	PID      string   `json:"pid,omitempty" pb:"4"`
	Hostname string   `json:"hostname,omitempty" pb:"5"`
	Version  string   `json:"version,omitempty" pb:"6"`
	Address  *Address `json:"address,omitempty" pb:"7"`
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
	ID             ID              `json:"id" pb:"1"`
	FrameworkID    ID              `json:"framework_id" pb:"2"`
	AgentID        ID              `json:"agent_id" pb:"3"`
	Hostname       string          `json:"hostname" pb:"4,req"`
	URL            *URL            `json:"url,omitempty" pb:"8"`
	AllocationInfo *AllocationInfo `json:"allocation_info,omitempty" pb:"10"`
	Resources      []Resource      `json:"resources" pb:"5"`
	Attributes     []Attribute     `json:"attributes,omitempty" pb:"7"`
	ExecutorIDs    []ID            `json:"executor_ids,omitempty" pb:"6"`
	// Unavailability is set when the agent is scheduled for maintenance
	// or being drained: the resources are offered until it starts.
	Unavailability *Unavailability `json:"unavailability,omitempty" pb:"9"`
}

// Unavailability is the proto Unavailability message: a time from which
// an agent is unavailable, for Duration (unset: for good).
type Unavailability struct {
	Start    TimeInfo      `json:"start" pb:"1"`
	Duration *DurationInfo `json:"duration,omitempty" pb:"2"`
}

// InverseOffer is the proto InverseOffer message: the master asks a
// framework to give back what it uses on an agent (Resources empty: all
// of it) by Unavailability.Start.
type InverseOffer struct {
	ID             ID             `json:"id" pb:"1"`
	URL            *URL           `json:"url,omitempty" pb:"2"`
	FrameworkID    ID             `json:"framework_id" pb:"3"`
	AgentID        *ID            `json:"agent_id,omitempty" pb:"4"`
	Unavailability Unavailability `json:"unavailability" pb:"5"`
	Resources      []Resource     `json:"resources,omitempty" pb:"6"`
}

// URL is the proto URL message (used for an offer's agent endpoint).
type URL struct {
	Scheme  string  `json:"scheme" pb:"1,req"`
	Address Address `json:"address" pb:"2"`
	Path    string  `json:"path,omitempty" pb:"3"`
}

// Variable is one Environment variable: a plain Value (type "" or
// VALUE), or (type SECRET) a Secret the agent resolves at launch.
type Variable struct {
	Name   string  `json:"name" pb:"1,req"`
	Type   string  `json:"type,omitempty" pb:"3,enum=VariableType"`
	Value  string  `json:"value,omitempty" pb:"2"`
	Secret *Secret `json:"secret,omitempty" pb:"4"`
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
	Type      string           `json:"type" pb:"1,enum=SecretType"`
	Reference *SecretReference `json:"reference,omitempty" pb:"2"`
	Value     *SecretValue     `json:"value,omitempty" pb:"3"`
}

// Secret types.
const (
	SecretReferenceType = "REFERENCE"
	SecretValueType     = "VALUE"
)

// SecretReference names a stored secret.
type SecretReference struct {
	Name string `json:"name" pb:"1,req"`
	Key  string `json:"key,omitempty" pb:"2"`
}

// SecretValue is a secret given inline.
type SecretValue struct {
	Data []byte `json:"data" pb:"1,req"`
}

// Environment is the proto Environment message.
type Environment struct {
	Variables []Variable `json:"variables" pb:"1"`
}

// CommandURI is CommandInfo.URI: an artifact the agent fetches into the
// task's sandbox before the command starts (see uri.go and the agent's
// fetcher). Absent booleans take Mesos' defaults: Executable false,
// Extract true, Cache false.
type CommandURI struct {
	Value      string `json:"value" pb:"1,req"`
	Executable *bool  `json:"executable,omitempty" pb:"2"`
	Extract    *bool  `json:"extract,omitempty" pb:"3"`
	Cache      *bool  `json:"cache,omitempty" pb:"4"`
	OutputFile string `json:"output_file,omitempty" pb:"5"`
}

// CommandInfo is the proto CommandInfo message. With Shell (default true)
// Value is run by /bin/sh -c; otherwise Value is the program and Arguments
// its argv (argv[0] included, as in Mesos).
type CommandInfo struct {
	URIs        []CommandURI `json:"uris,omitempty" pb:"1"`
	Environment *Environment `json:"environment,omitempty" pb:"2"`
	Shell       *bool        `json:"shell,omitempty" pb:"6"`
	Value       string       `json:"value,omitempty" pb:"3"`
	Arguments   []string     `json:"arguments,omitempty" pb:"7"`
	User        string       `json:"user,omitempty" pb:"5"`
}

// IsShell reports whether the command runs through the shell (the default).
func (c *CommandInfo) IsShell() bool { return c.Shell == nil || *c.Shell }

// Executor types (ExecutorInfo.Type).
const (
	ExecutorUnknown = "UNKNOWN"
	ExecutorDefault = "DEFAULT"
	ExecutorCustom  = "CUSTOM"
)

// ExecutorInfo is the proto ExecutorInfo message: a framework's own
// executor, which the agent starts in its own sandbox and which then runs
// the tasks that name it over the v1 executor API.
type ExecutorInfo struct {
	Type        string         `json:"type,omitempty" pb:"15,enum=ExecutorType"`
	ExecutorID  ID             `json:"executor_id" pb:"1"`
	FrameworkID *ID            `json:"framework_id,omitempty" pb:"8"`
	Command     *CommandInfo   `json:"command,omitempty" pb:"7"`
	Container   *ContainerInfo `json:"container,omitempty" pb:"11"`
	Resources   []Resource     `json:"resources,omitempty" pb:"5"`
	Name        string         `json:"name,omitempty" pb:"9"`
	Source      string         `json:"source,omitempty" pb:"10"`
	Data        string         `json:"data,omitempty" pb:"4,b64"`
	Labels      *Labels        `json:"labels,omitempty" pb:"14"`
	// ShutdownGracePeriod is how long the executor has between SHUTDOWN
	// and being killed; unset means the agent's default.
	ShutdownGracePeriod *DurationInfo `json:"shutdown_grace_period,omitempty" pb:"13"`
}

// DurationInfo is the proto DurationInfo message.
type DurationInfo struct {
	Nanoseconds Int `json:"nanoseconds" pb:"1,req"`
}

// KillPolicy is the proto KillPolicy message.
type KillPolicy struct {
	GracePeriod *DurationInfo `json:"grace_period,omitempty" pb:"1"`
}

// HTTPCheckInfo is HealthCheck.HTTPCheckInfo.
type HTTPCheckInfo struct {
	Protocol string `json:"protocol,omitempty" pb:"5,enum=NetworkProtocol"`
	Scheme   string `json:"scheme,omitempty" pb:"3"`
	Port     Int    `json:"port" pb:"1,req"`
	Path     string `json:"path,omitempty" pb:"2"`
	Statuses []Int  `json:"statuses,omitempty" pb:"4"`
}

// TCPCheckInfo is HealthCheck.TCPCheckInfo.
type TCPCheckInfo struct {
	Protocol string `json:"protocol,omitempty" pb:"2,enum=NetworkProtocol"`
	Port     Int    `json:"port" pb:"1,req"`
}

// HealthCheck is the proto HealthCheck message; Type is COMMAND, HTTP or TCP.
type HealthCheck struct {
	Type                string         `json:"type,omitempty" pb:"8,enum=HealthCheckType"`
	Command             *CommandInfo   `json:"command,omitempty" pb:"7"`
	HTTP                *HTTPCheckInfo `json:"http,omitempty" pb:"1"`
	TCP                 *TCPCheckInfo  `json:"tcp,omitempty" pb:"9"`
	DelaySeconds        *Float         `json:"delay_seconds,omitempty" pb:"2"`
	IntervalSeconds     *Float         `json:"interval_seconds,omitempty" pb:"3"`
	TimeoutSeconds      *Float         `json:"timeout_seconds,omitempty" pb:"4"`
	ConsecutiveFailures *Int           `json:"consecutive_failures,omitempty" pb:"5"`
	GracePeriodSeconds  *Float         `json:"grace_period_seconds,omitempty" pb:"6"`
}

// TaskInfo is the proto TaskInfo message.
type TaskInfo struct {
	Name        string         `json:"name" pb:"1,req"`
	TaskID      ID             `json:"task_id" pb:"2"`
	AgentID     ID             `json:"agent_id" pb:"3"`
	Resources   []Resource     `json:"resources" pb:"4"`
	Executor    *ExecutorInfo  `json:"executor,omitempty" pb:"5"`
	Command     *CommandInfo   `json:"command,omitempty" pb:"7"`
	Container   *ContainerInfo `json:"container,omitempty" pb:"9"`
	HealthCheck *HealthCheck   `json:"health_check,omitempty" pb:"8"`
	KillPolicy  *KillPolicy    `json:"kill_policy,omitempty" pb:"12"`
	Data        string         `json:"data,omitempty" pb:"6,b64"`
	Labels      *Labels        `json:"labels,omitempty" pb:"10"`
	Discovery   *DiscoveryInfo `json:"discovery,omitempty" pb:"11"`
	// Limits are limits above the task's resources (its requests) for
	// cpus and mem, to burst into idle capacity; +Inf is no limit.
	Limits map[string]Limit `json:"limits,omitempty" pb:"15"`
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
	ReasonAgentRemovedByOperator = "REASON_AGENT_REMOVED_BY_OPERATOR"
	ReasonInvalidOffers          = "REASON_INVALID_OFFERS"
	ReasonReconciliation         = "REASON_RECONCILIATION"
	ReasonTaskInvalid            = "REASON_TASK_INVALID"
	ReasonTaskUnauthorized       = "REASON_TASK_UNAUTHORIZED"
	ReasonTaskUnknown            = "REASON_TASK_UNKNOWN"
	ReasonTaskKilledDuringLaunch = "REASON_TASK_KILLED_DURING_LAUNCH"
	ReasonResourcesUnknown       = "REASON_RESOURCES_UNKNOWN"
	ReasonMasterDisconnected     = "REASON_MASTER_DISCONNECTED"
	ReasonExecutorUnregistered   = "REASON_EXECUTOR_UNREGISTERED"

	ReasonExecutorRegistrationTimeout   = "REASON_EXECUTOR_REGISTRATION_TIMEOUT"
	ReasonExecutorReregistrationTimeout = "REASON_EXECUTOR_REREGISTRATION_TIMEOUT"
	// ReasonTaskHealthCheckStatusUpdated marks a TASK_RUNNING update that
	// reports a change of the task's health (its healthy field).
	ReasonTaskHealthCheckStatusUpdated = "REASON_TASK_HEALTH_CHECK_STATUS_UPDATED"
)

// TaskStatus is the proto TaskStatus message. UUID is base64 (proto bytes);
// a status with a UUID must be acknowledged, one without must not.
type TaskStatus struct {
	TaskID          ID        `json:"task_id" pb:"1"`
	State           TaskState `json:"state" pb:"2,req,enum=TaskState"`
	Message         string    `json:"message,omitempty" pb:"4"`
	Source          string    `json:"source,omitempty" pb:"9,enum=Source"`
	Reason          string    `json:"reason,omitempty" pb:"10,enum=Reason"`
	Data            string    `json:"data,omitempty" pb:"3,b64"`
	AgentID         *ID       `json:"agent_id,omitempty" pb:"5"`
	ExecutorID      *ID       `json:"executor_id,omitempty" pb:"7"`
	Timestamp       Float     `json:"timestamp,omitempty" pb:"6"`
	UUID            string    `json:"uuid,omitempty" pb:"11,b64"`
	Healthy         *bool     `json:"healthy,omitempty" pb:"8"`
	Labels          *Labels   `json:"labels,omitempty" pb:"12"`
	UnreachableTime *TimeInfo `json:"unreachable_time,omitempty" pb:"14"`
}

// TimeInfo is the proto TimeInfo message.
type TimeInfo struct {
	Nanoseconds Int `json:"nanoseconds" pb:"1,req"`
}

// Filters is the proto Filters message.
type Filters struct {
	RefuseSeconds *Float `json:"refuse_seconds,omitempty" pb:"1"`
}
