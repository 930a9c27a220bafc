// Package resource is the value type for agent resources: named scalars
// (cpus, mem, disk, gpus: kept in fixed point with three decimal digits, as
// Mesos does), ranges (ports) and sets.
//
// A Resources value is immutable: every operation returns a new value, so
// values can be shared between goroutines and kept in snapshots freely.
//
// Text syntax (the agent's --resources flag, Mesos' syntax without roles):
//
//	cpus:4;mem:8192;disk:10000;ports:[31000-32000,40000-40010];zones:{a,b}
//
// The package is pure: it imports only the standard library and the wire
// types of package mesos.
package resource
