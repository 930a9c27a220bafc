// Package files serves the agent's sandboxes over HTTP in the shape of the
// Mesos /files endpoints, so task logs are one click away:
//
//	GET /files/browse?path=P                  JSON list of P's entries (or P itself)
//	GET /files/read?path=P&offset=O&length=L  {"data": "...", "offset": O}
//	GET /files/download?path=P                the raw file, as an attachment
//
// P is absolute (as /state reports sandboxes) or relative to the root that
// holds the sandboxes (<root>/<framework>/<task>, see SandboxDepth).
// Sandboxes are written by tasks, so everything in them is treated as
// hostile:
//
//   - Confinement. A path with a ".." element is refused (403), and an
//     absolute path must lie below the root component by component
//     (filepath.Rel, not a string prefix: <root>2 is outside). A path
//     inside a sandbox is resolved in an os.Root of that sandbox, which
//     follows symlinks itself, one component at a time on open
//     descriptors: a symlink leading to another sandbox or out of the root
//     is refused (403), with no gap between check and open.
//   - Regular files only. read and download open with O_NONBLOCK and check
//     the type on the opened descriptor (fstat): a directory, FIFO,
//     socket or device is refused at once (400, naming the path and its
//     type), so a task's `mkfifo` cannot hold a handler and its
//     descriptor forever.
//   - Hard links. A regular file with more than one link is not served
//     (403): a task can hard-link any file of the same filesystem into its
//     sandbox (`ln /etc/shadow x`), and the link count, read from the
//     opened descriptor, is all that tells such a link from the task's own
//     file. Files a task links to itself inside its sandbox are refused
//     too.
//   - Browse never opens anything but directories, and describes each
//     entry by lstat through the directory's descriptor: a symlink is shown
//     as itself, never with its target's size, owner, mode or time. A path
//     that is itself a symlink is listed as its target only when that is a
//     directory inside the same sandbox. FIFOs and the like are listed like
//     any entry.
//   - Content. Every response carries X-Content-Type-Options: nosniff;
//     read answers JSON and download application/octet-stream with
//     Content-Disposition: attachment, so no file is rendered as HTML.
//
// Client mistakes are 4xx with a message naming the path, never 500.
package files
