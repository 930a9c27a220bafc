// Package secrets is the master's secret store: named values kept in
// Postgres (table kernel.secrets, see corral/migrations), encrypted at rest
// with AES-256-GCM. Operators write and delete secrets through the master's
// API; only the master reads a value back (Get), to hand it to a task that
// references it.
//
// Vocabulary:
//
//   - name: a path of components such as "team/db". A leading "/" is
//     optional and not stored ("/team/db" is "team/db"). Components are
//     [A-Za-z0-9._-]+, never "." or ".."; the whole name is at most
//     MaxNameBytes.
//   - value: at most MaxValueBytes of arbitrary bytes (binary is fine),
//     never empty.
//   - meta: what may be shown about a secret: its name, when it was
//     created and last written, its version (1 when created, bumped by
//     every Put) and the size of its value. Never the value.
//   - key: 32 random bytes. The key file holds them as 64 hex digits or
//     as base64, on one line. A key's id is the first 8 bytes of a SHA-256
//     of the key (with a label), so that a row says which key sealed it
//     without revealing anything about the key.
//   - keyring: the current key, which seals every value written, and the
//     previous keys, which only open values sealed before a rotation.
//
// A row holds the key id, a random 12-byte nonce and the ciphertext:
//
//	value ──AES-256-GCM(key, nonce, additional data = label ‖ name)──▶ ciphertext
//
// Because the name is additional data, a row copied or renamed to another
// name does not decrypt: Get fails with ErrUndecryptable rather than hand
// one secret's value out under another's name.
//
// Rotation: start with the new key as the current one and the old keys as
// previous ones; Rotate re-encrypts every row not under the current key
// (a row at a time, each in its own transaction) and is idempotent. Once it
// reports no rows left under other keys, the previous keys can be dropped.
//
//	Put ──seal under current──▶ row(key_id = current)
//	Get ◀──open with the key whose id the row names── row(any known key)
//	Rotate: row(previous key) ──open, seal under current──▶ row(current)
//
// Store is a thin adapter over pgx, in the manner of the kernel registry:
// no pgx type in its API, errors carry what was being done, and Postgres
// being down is an ordinary error of the call that needed it. Given the
// master's lead.Fence, its writes are refused with lead.ErrFenced once
// another master has begun a term.
package secrets
