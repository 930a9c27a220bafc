// Package mesos holds the wire types of the Mesos v1 scheduler HTTP API in
// its JSON form, and the RecordIO codec that frames its event stream.
//
// The types follow the proto field names (snake_case) and enum names of
// include/mesos/v1/mesos.proto and scheduler/scheduler.proto, so that an
// existing v1 JSON framework talks to corral unchanged. Decoding is lenient
// as in Mesos: null means unset, unknown fields are ignored, and numbers
// given as strings are accepted (see Float and Int). Validation is the job
// of the receiver, not of this package.
//
// The package is pure: it imports only the standard library.
package mesos
