// Package mesospb is the protobuf codec of the Mesos v1 APIs: it reads
// and writes the binary form (media type application/x-protobuf) of
// mesos.v1.scheduler.Call and Event and the executor API's Call and Event
// to and from the Go types of package mesos, which are otherwise read and
// written as JSON; and, through Marshal and Unmarshal, of any message
// whose Go type carries the same tags, as the operator API's
// mesos.v1.master.Call, Response and Event do in package master.
//
// The schema is in the types themselves: each field that has a protobuf
// form carries a `pb:"N[,option…]"` tag next to its `json` tag, N being
// the field number of the proto message it stands for. The options are
//
//	req          always written, even when zero (a proto2 required field:
//	             mesos-go's generated Unmarshal fails without it)
//	enum=Name    a string holding an enum's name; varint on the wire
//	             (tables in enums.go)
//	b64          a string holding a bytes field base64-encoded, as the
//	             JSON form carries it (uuid, data)
//	raw[=shape]  a json.RawMessage for a message corral keeps only for
//	             validation to refuse; see raw.go
//	inf          a double that may be infinite (TaskInfo.limits: +Inf
//	             is no limit, "Infinity" in JSON); others refuse it
//
// A map[string]T field is a proto map<string, T>: entries {key #1,
// value #2}, written in key order.
//
// A codec driven by the tags keeps the field numbers beside the fields
// they belong to, so a field added to a type cannot be forgotten here
// without a test noticing (every field of a type reachable from Call or
// Event must carry a tag; Check tells the packages that define other
// messages). A field kept out of JSON (`json:"-"`) may go untagged, and
// is then in neither form.
//
// Fields are written in field number order, as protobuf's serializers
// write them, whatever their order in the Go type (which is free to
// follow the JSON form's).
//
// Decoding follows proto2 semantics and the JSON form's: unknown fields
// are skipped, a field given twice keeps the last value (messages are
// merged), pointer fields record presence, and absent fields stay zero,
// exactly as absent JSON keys do; defaults are the receiver's business.
// It is stricter than JSON in two ways the JSON parser is too, in its
// own terms: a double that is not finite and a string that is not UTF-8
// are errors. Encoding writes what is set: non-zero scalars, present
// pointers, every element of a slice, and every non-pointer message.
//
// The package is pure: no I/O, no goroutines; the only state is a cache
// of the field plan of each type, filled on first use.
package mesospb
