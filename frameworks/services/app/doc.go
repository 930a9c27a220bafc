// Package app is the model of a Marathon app definition for the services
// framework: decoding the JSON that Marathon clients send, Marathon's
// defaults, validation with Marathon's error paths, partial updates, and
// the JSON written back. It also owns the shapes of app ids, task ids and
// versions.
//
// The package is pure: it imports only the standard library and
// github.com/google/uuid (for task ids), reads no clock (callers pass
// now) and does no I/O.
//
// # Vocabulary
//
//   - app id: an absolute path of lowercase segments, "/prod/web/api".
//     Its parent path is a group; "/" is the root group and never an app.
//   - given: a field that the JSON carried with a non-null value. Absent
//     fields get defaults, given ones are kept even when zero
//     ("instances": 0). Decode records what was given; Normalize consumes
//     the record.
//   - version: the time of the app's last change, RFC 3339 UTC with
//     milliseconds ("2015-09-29T15:59:51.164Z"); it names a stored
//     revision of the definition.
//   - secret: an entry of the app's "secrets", {"db": {"source": "team/db"}}:
//     a name local to the app ("db") for a secret of the master's store
//     ("team/db"). An env variable {"secret": "db"} references it; the
//     task gets a SECRET variable that the agent resolves at launch. The
//     package holds references only, never a value.
//   - task id: "<app id without its leading /, / as _>.<uuid>"; app ids
//     have no underscores, so the app is recovered from the task id. Mesos
//     allows task ids of at most 255 bytes, so app ids have at most 219.
//
// # Flow of a request body
//
//	POST body ──DecodeRequest──► App ──Normalize──► App ──Validate──► nil | *ValidationError (422)
//	               │     │                                  │
//	               │     └─► []Warning (unknown fields)      └─► MarshalJSON (responses, storage)
//	               └─► *InvalidJSON (400)
//
//	PUT body + stored App ──Merge──► normalized App, []Warning ──Validate──► …
//	                                  OnlyScale(stored, merged): scale, not restart
//
//	stored JSON ──Decode──► App (no refusals, no warnings)
//
// DecodeRequest and Merge are strict about JSON types. Fields nobody knows
// are ignored, as Marathon ignores them, and returned as warnings for the
// answer to carry. Fields of the Marathon format that corral does not
// implement are refused when a request gives them a value other than
// their default (see unsupported.go). Problems of meaning (bad ranges,
// unknown operators, undefined secrets, containers, unsupported fields)
// are all left to Validate, so a client gets every one of them in a
// single 422.
package app
