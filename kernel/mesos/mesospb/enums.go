package mesospb

import "strconv"

// enum maps the names of one proto enum to their numbers and back.
type enum struct {
	nums  map[string]int32
	names map[int32]string
}

func newEnum(nums map[string]int32) *enum {
	e := &enum{nums: nums, names: make(map[int32]string, len(nums))}
	for name, n := range nums {
		e.names[n] = name
	}
	return e
}

// name returns the name of n. A number the table does not know (an enum
// value newer than this table) is kept as its decimal form, so that the
// receiver's validation names it and encoding gives it back unchanged.
func (e *enum) name(n int32) string {
	if s, ok := e.names[n]; ok {
		return s
	}
	return strconv.FormatInt(int64(n), 10)
}

// num returns the number of name, also for a decimal name (see name).
func (e *enum) num(name string) (int32, bool) {
	if n, ok := e.nums[name]; ok {
		return n, true
	}
	n, err := strconv.ParseInt(name, 10, 32)
	return int32(n), err == nil
}

// enums are the enum tables the `enum=Name` tag option names. The numbers
// are those of include/mesos/v1/mesos.proto, scheduler/scheduler.proto,
// master/master.proto, allocator/allocator.proto and executor/executor.proto.
var enums = map[string]*enum{
	"CallType": newEnum(map[string]int32{
		"UNKNOWN": 0, "SUBSCRIBE": 1, "TEARDOWN": 2, "ACCEPT": 3, "DECLINE": 4, "REVIVE": 5,
		"KILL": 6, "SHUTDOWN": 7, "ACKNOWLEDGE": 8, "RECONCILE": 9, "MESSAGE": 10, "REQUEST": 11,
		"SUPPRESS": 12, "ACCEPT_INVERSE_OFFERS": 13, "DECLINE_INVERSE_OFFERS": 14,
		"ACKNOWLEDGE_OPERATION_STATUS": 15, "RECONCILE_OPERATIONS": 16, "UPDATE_FRAMEWORK": 17,
	}),
	"EventType": newEnum(map[string]int32{
		"UNKNOWN": 0, "SUBSCRIBED": 1, "OFFERS": 2, "RESCIND": 3, "UPDATE": 4, "MESSAGE": 5,
		"FAILURE": 6, "ERROR": 7, "HEARTBEAT": 8, "INVERSE_OFFERS": 9, "RESCIND_INVERSE_OFFER": 10,
		"UPDATE_OPERATION_STATUS": 11,
	}),
	"TaskState": newEnum(map[string]int32{
		"TASK_STARTING": 0, "TASK_RUNNING": 1, "TASK_FINISHED": 2, "TASK_FAILED": 3, "TASK_KILLED": 4,
		"TASK_LOST": 5, "TASK_STAGING": 6, "TASK_ERROR": 7, "TASK_KILLING": 8, "TASK_DROPPED": 9,
		"TASK_UNREACHABLE": 10, "TASK_GONE": 11, "TASK_GONE_BY_OPERATOR": 12, "TASK_UNKNOWN": 13,
	}),
	"Source": newEnum(map[string]int32{
		"SOURCE_MASTER": 0, "SOURCE_AGENT": 1, "SOURCE_EXECUTOR": 2,
	}),
	"Reason": newEnum(map[string]int32{
		"REASON_COMMAND_EXECUTOR_FAILED": 0, "REASON_EXECUTOR_TERMINATED": 1,
		"REASON_EXECUTOR_UNREGISTERED": 2, "REASON_FRAMEWORK_REMOVED": 3, "REASON_GC_ERROR": 4,
		"REASON_INVALID_FRAMEWORKID": 5, "REASON_INVALID_OFFERS": 6, "REASON_MASTER_DISCONNECTED": 7,
		"REASON_CONTAINER_LIMITATION_MEMORY": 8, "REASON_RECONCILIATION": 9,
		"REASON_AGENT_DISCONNECTED": 10, "REASON_AGENT_REMOVED": 11, "REASON_AGENT_RESTARTED": 12,
		"REASON_AGENT_UNKNOWN": 13, "REASON_TASK_INVALID": 14, "REASON_TASK_UNAUTHORIZED": 15,
		"REASON_TASK_UNKNOWN": 16, "REASON_CONTAINER_PREEMPTED": 17, "REASON_RESOURCES_UNKNOWN": 18,
		"REASON_CONTAINER_LIMITATION": 19, "REASON_CONTAINER_LIMITATION_DISK": 20,
		"REASON_CONTAINER_LAUNCH_FAILED": 21, "REASON_CONTAINER_UPDATE_FAILED": 22,
		"REASON_EXECUTOR_REGISTRATION_TIMEOUT": 23, "REASON_EXECUTOR_REREGISTRATION_TIMEOUT": 24,
		"REASON_TASK_GROUP_INVALID": 25, "REASON_TASK_GROUP_UNAUTHORIZED": 26,
		"REASON_IO_SWITCHBOARD_EXITED": 27, "REASON_TASK_CHECK_STATUS_UPDATED": 28,
		"REASON_TASK_HEALTH_CHECK_STATUS_UPDATED": 29, "REASON_TASK_KILLED_DURING_LAUNCH": 30,
		"REASON_AGENT_REMOVED_BY_OPERATOR": 31, "REASON_AGENT_REREGISTERED": 32,
		"REASON_MAX_COMPLETION_TIME_REACHED": 33, "REASON_AGENT_DRAINING": 34,
	}),
	"ValueType": newEnum(map[string]int32{
		"SCALAR": 0, "RANGES": 1, "SET": 2, "TEXT": 3,
	}),
	"Capability": newEnum(map[string]int32{
		"UNKNOWN": 0, "REVOCABLE_RESOURCES": 1, "TASK_KILLING_STATE": 2, "GPU_RESOURCES": 3,
		"SHARED_RESOURCES": 4, "PARTITION_AWARE": 5, "MULTI_ROLE": 6, "RESERVATION_REFINEMENT": 7,
		"REGION_AWARE": 8,
	}),
	"OperationType": newEnum(map[string]int32{
		"UNKNOWN": 0, "LAUNCH": 1, "RESERVE": 2, "UNRESERVE": 3, "CREATE": 4, "DESTROY": 5,
		"LAUNCH_GROUP": 6, "GROW_VOLUME": 11, "SHRINK_VOLUME": 12, "CREATE_DISK": 13, "DESTROY_DISK": 14,
	}),
	"ReservationType": newEnum(map[string]int32{"UNKNOWN": 0, "STATIC": 1, "DYNAMIC": 2}),
	"VariableType":    newEnum(map[string]int32{"UNKNOWN": 0, "VALUE": 1, "SECRET": 2}),
	"SecretType":      newEnum(map[string]int32{"UNKNOWN": 0, "REFERENCE": 1, "VALUE": 2}),
	"ContainerType":   newEnum(map[string]int32{"DOCKER": 1, "MESOS": 2}),
	"DockerNetwork":   newEnum(map[string]int32{"HOST": 1, "BRIDGE": 2, "NONE": 3, "USER": 4}),
	"VolumeMode":      newEnum(map[string]int32{"RW": 1, "RO": 2}),
	"VolumeSourceType": newEnum(map[string]int32{
		"UNKNOWN": 0, "DOCKER_VOLUME": 1, "SANDBOX_PATH": 2, "SECRET": 3, "HOST_PATH": 4, "CSI_VOLUME": 5,
	}),
	"HealthCheckType":     newEnum(map[string]int32{"UNKNOWN": 0, "COMMAND": 1, "HTTP": 2, "TCP": 3}),
	"NetworkProtocol":     newEnum(map[string]int32{"IPv4": 1, "IPv6": 2}),
	"ExecutorType":        newEnum(map[string]int32{"UNKNOWN": 0, "DEFAULT": 1, "CUSTOM": 2}),
	"DiscoveryVisibility": newEnum(map[string]int32{"FRAMEWORK": 0, "CLUSTER": 1, "EXTERNAL": 2}),
	// mesos.proto: DrainInfo.state
	"DrainState": newEnum(map[string]int32{"UNKNOWN": 0, "DRAINING": 1, "DRAINED": 2}),
	// allocator/allocator.proto: InverseOfferStatus.Status (maintenance status)
	"InverseOfferStatus": newEnum(map[string]int32{"UNKNOWN": 1, "ACCEPT": 2, "DECLINE": 3}),
	// master/master.proto: the operator API
	"OperatorCallType": newEnum(map[string]int32{
		"UNKNOWN": 0, "GET_HEALTH": 1, "GET_FLAGS": 2, "GET_VERSION": 3, "GET_METRICS": 4,
		"GET_LOGGING_LEVEL": 5, "SET_LOGGING_LEVEL": 6, "LIST_FILES": 7, "READ_FILE": 8, "GET_STATE": 9,
		"GET_AGENTS": 10, "GET_FRAMEWORKS": 11, "GET_EXECUTORS": 12, "GET_TASKS": 13, "GET_ROLES": 14,
		"GET_WEIGHTS": 15, "UPDATE_WEIGHTS": 16, "GET_MASTER": 17, "SUBSCRIBE": 18,
		"RESERVE_RESOURCES": 19, "UNRESERVE_RESOURCES": 20, "CREATE_VOLUMES": 21, "DESTROY_VOLUMES": 22,
		"GET_MAINTENANCE_STATUS": 23, "GET_MAINTENANCE_SCHEDULE": 24, "UPDATE_MAINTENANCE_SCHEDULE": 25,
		"START_MAINTENANCE": 26, "STOP_MAINTENANCE": 27, "GET_QUOTA": 28, "SET_QUOTA": 29, "REMOVE_QUOTA": 30,
		"TEARDOWN": 31, "MARK_AGENT_GONE": 32, "GET_OPERATIONS": 33, "GROW_VOLUME": 34, "SHRINK_VOLUME": 35,
		"UPDATE_QUOTA": 36, "DRAIN_AGENT": 37, "DEACTIVATE_AGENT": 38, "REACTIVATE_AGENT": 39,
	}),
	"OperatorResponseType": newEnum(map[string]int32{
		"UNKNOWN": 0, "GET_HEALTH": 1, "GET_FLAGS": 2, "GET_VERSION": 3, "GET_METRICS": 4,
		"GET_LOGGING_LEVEL": 5, "LIST_FILES": 6, "READ_FILE": 7, "GET_STATE": 8, "GET_AGENTS": 9,
		"GET_FRAMEWORKS": 10, "GET_EXECUTORS": 11, "GET_TASKS": 12, "GET_ROLES": 13, "GET_WEIGHTS": 14,
		"GET_MASTER": 15, "GET_MAINTENANCE_STATUS": 16, "GET_MAINTENANCE_SCHEDULE": 17, "GET_QUOTA": 18,
		"GET_OPERATIONS": 19,
	}),
	"OperatorEventType": newEnum(map[string]int32{
		"UNKNOWN": 0, "SUBSCRIBED": 1, "TASK_ADDED": 2, "TASK_UPDATED": 3, "AGENT_ADDED": 4,
		"AGENT_REMOVED": 5, "FRAMEWORK_ADDED": 6, "FRAMEWORK_UPDATED": 7, "FRAMEWORK_REMOVED": 8,
		"HEARTBEAT": 9,
	}),
	// executor/executor.proto
	"ExecutorCallType": newEnum(map[string]int32{
		"UNKNOWN": 0, "SUBSCRIBE": 1, "UPDATE": 2, "MESSAGE": 3, "HEARTBEAT": 4,
	}),
	"ExecutorEventType": newEnum(map[string]int32{
		"UNKNOWN": 0, "SUBSCRIBED": 1, "LAUNCH": 2, "KILL": 3, "ACKNOWLEDGED": 4, "MESSAGE": 5,
		"ERROR": 6, "SHUTDOWN": 7, "LAUNCH_GROUP": 8, "HEARTBEAT": 9,
	}),
}
