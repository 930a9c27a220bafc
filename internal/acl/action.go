package acl

// Action is what a principal asks to do: the top-level key of an ACL
// file, such as "run_tasks". Its zero value is not an action.
type Action string

// The actions corral enforces. The comment after each group names the
// object key its entries carry and how an object is compared with the
// entry's values (see doc.go).
const (
	RegisterFrameworks Action = "register_frameworks" // "roles": role
	RunTasks           Action = "run_tasks"           // "users": exact
	TeardownFrameworks Action = "teardown_frameworks" // "framework_principals": exact
	AccessSandboxes    Action = "access_sandboxes"    // "users": exact
	AccessMesosLogs    Action = "access_mesos_logs"   // "logs": ANY/NONE only

	ViewFrameworks Action = "view_frameworks" // "users": exact
	ViewTasks      Action = "view_tasks"      // "users": exact
	ViewExecutors  Action = "view_executors"  // "users": exact

	ViewRoles     Action = "view_roles"     // "roles": role
	UpdateWeights Action = "update_weights" // "roles": role
	GetQuotas     Action = "get_quotas"     // "roles": role
	UpdateQuotas  Action = "update_quotas"  // "roles": role

	RegisterAgents   Action = "register_agents"   // "agents": ANY/NONE only
	DrainAgents      Action = "drain_agents"      // "agents": ANY/NONE only
	DeactivateAgents Action = "deactivate_agents" // "agents": ANY/NONE only
	ReactivateAgents Action = "reactivate_agents" // "agents": ANY/NONE only
	MarkAgentsGone   Action = "mark_agents_gone"  // "agents": ANY/NONE only

	StartMaintenances          Action = "start_maintenances"           // "machines": ANY/NONE only
	StopMaintenances           Action = "stop_maintenances"            // "machines": ANY/NONE only
	UpdateMaintenanceSchedules Action = "update_maintenance_schedules" // "machines": ANY/NONE only
	GetMaintenanceSchedules    Action = "get_maintenance_schedules"    // "machines": ANY/NONE only
	GetMaintenanceStatuses     Action = "get_maintenance_statuses"     // "machines": ANY/NONE only

	ViewFlags    Action = "view_flags"    // "flags": ANY/NONE only
	GetEndpoints Action = "get_endpoints" // "paths": exact

	// corral's own actions.
	ManageApps    Action = "manage_apps"    // "apps": path prefix
	ViewApps      Action = "view_apps"      // "apps": path prefix
	ManageJobs    Action = "manage_jobs"    // "jobs": name prefix
	ViewJobs      Action = "view_jobs"      // "jobs": name prefix
	ManageSecrets Action = "manage_secrets" // "secrets": path prefix
	UseSecrets    Action = "use_secrets"    // "secrets": path prefix
)

// String returns the action's JSON key.
func (a Action) String() string { return string(a) }

// match is how an object is compared with an entry's values.
type match uint8

const (
	matchExact  match = iota // the same string
	matchRole                // the same role, or nested under a "parent/%" value
	matchPath                // the value's path, or a path under it, by whole components
	matchPrefix              // a string that starts with the value
	matchFixed               // no values at all: entries give the type ANY or NONE
)

// object returns the key an entry of a carries for its object and how
// objects compare with its values; ok is false if corral does not know a.
func (a Action) object() (key string, m match, ok bool) {
	switch a {
	case RegisterFrameworks, ViewRoles, UpdateWeights, GetQuotas, UpdateQuotas:
		return "roles", matchRole, true
	case RunTasks, AccessSandboxes, ViewFrameworks, ViewTasks, ViewExecutors:
		return "users", matchExact, true
	case TeardownFrameworks:
		return "framework_principals", matchExact, true
	case GetEndpoints:
		return "paths", matchExact, true
	case AccessMesosLogs:
		return "logs", matchFixed, true
	case ViewFlags:
		return "flags", matchFixed, true
	case RegisterAgents, DrainAgents, DeactivateAgents, ReactivateAgents, MarkAgentsGone:
		return "agents", matchFixed, true
	case StartMaintenances, StopMaintenances, UpdateMaintenanceSchedules, GetMaintenanceSchedules, GetMaintenanceStatuses:
		return "machines", matchFixed, true
	case ManageApps, ViewApps:
		return "apps", matchPath, true
	case ManageJobs, ViewJobs:
		return "jobs", matchPrefix, true
	case ManageSecrets, UseSecrets:
		return "secrets", matchPath, true
	}
	return "", 0, false
}

// actions lists every Action, for suggestions and tests.
var actions = [...]Action{
	RegisterFrameworks, RunTasks, TeardownFrameworks, AccessSandboxes, AccessMesosLogs,
	ViewFrameworks, ViewTasks, ViewExecutors,
	ViewRoles, UpdateWeights, GetQuotas, UpdateQuotas,
	RegisterAgents, DrainAgents, DeactivateAgents, ReactivateAgents, MarkAgentsGone,
	StartMaintenances, StopMaintenances, UpdateMaintenanceSchedules, GetMaintenanceSchedules, GetMaintenanceStatuses,
	ViewFlags, GetEndpoints,
	ManageApps, ViewApps, ManageJobs, ViewJobs, ManageSecrets, UseSecrets,
}

// mesosOnly reports whether key is an action of Mesos' acls.proto that
// corral has nothing to enforce for, so that a Mesos file carrying it is
// refused with a message that says so rather than "unknown".
func mesosOnly(key string) bool {
	switch key {
	case "reserve_resources", "unreserve_resources", "create_volumes", "destroy_volumes", "resize_volumes",
		"set_log_level",
		"launch_nested_containers_as_user", "launch_nested_containers_under_parent_with_user",
		"kill_nested_containers", "wait_nested_containers", "remove_nested_containers",
		"launch_nested_container_sessions_as_user", "launch_nested_container_sessions_under_parent_with_user",
		"attach_containers_input", "attach_containers_output", "view_containers",
		"launch_standalone_containers", "kill_standalone_containers", "wait_standalone_containers",
		"remove_standalone_containers", "view_standalone_containers",
		"modify_resource_provider_configs", "mark_resource_providers_gone", "view_resource_providers",
		"prune_images",
		"create_block_disks", "destroy_block_disks", "create_mount_disks", "destroy_mount_disks", "destroy_raw_disks":
		return true
	}
	return false
}

// Actions returns every Action corral knows, in a fixed order.
func Actions() []Action { return append([]Action(nil), actions[:]...) }

// ObjectKey is the key an entry of a carries for its object ("roles",
// "users", "apps"...); "" for an Action corral does not know.
func (a Action) ObjectKey() string {
	key, _, _ := a.object()
	return key
}
