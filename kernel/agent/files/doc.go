// Package files serves the agent's sandboxes over HTTP in the shape of the
// Mesos /files endpoints, so task logs are one click away:
//
//	GET /files/browse?path=P                  JSON list of P's entries (or P itself)
//	GET /files/read?path=P&offset=O&length=L  {"data": "...", "offset": O}
//	GET /files/download?path=P                the raw file
//
// P is absolute (as /state reports sandboxes) or relative to the sandbox
// root. Nothing outside the root is served: ".." escapes are refused with
// 403 before touching the disk, and symlinks are resolved inside an os.Root
// so one pointing outside is refused too. Client mistakes are 4xx, never
// 500.
package files
