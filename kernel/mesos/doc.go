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
// Resources have one form in the master (allocation_info set, any
// reservations as a stack) and four on a framework's wire, picked by its
// MULTI_ROLE and RESERVATION_REFINEMENT capabilities; ResourceFormat
// converts offers to a framework's form and its operations' resources back.
//
// The package is pure: it imports only the standard library.
package mesos
