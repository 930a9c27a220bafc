// Package fetcher puts a task's artifacts (Mesos' CommandInfo.uris) into
// its sandbox before the task starts.
//
// Vocabulary:
//   - URI: one mesos.CommandURI; its value is an http(s) URL, a file URL
//     or an absolute path on the agent (mesos.Locate).
//   - output path: where the artifact lands, relative to the sandbox:
//     output_file, else the URI's base name (CommandURI.OutputPath).
//   - archive: an artifact whose output path ends in .tar, .tgz,
//     .tar.gz, .tbz2, .tar.bz2, .txz, .tar.xz or .zip; with extract
//     (the default, ignored for executable URIs) it is unpacked into the
//     sandbox root. A bare .gz is gunzipped beside itself.
//   - cache: with cache: true and a positive cache size, each (user,
//     URI) is downloaded once and kept, least recently used first out.
//
// Flow, per URI, in order:
//
//	Locate ──► cached? ──yes──► cache.get (one download per key; others wait)
//	              │no                  │
//	              ▼                    ▼
//	        download to a staging file ──► install into the sandbox
//	                                        (copy, chmod, extract)
//	                                        ──► chown what was made
//
// Everything is written through an os.Root on the sandbox, so no path, link
// or archive entry can reach outside it; archive entries that are absolute,
// climb out with "..", or are links pointing out are refused outright. The
// agent runs the fetcher as itself (often root) and gives each file and
// directory it makes to the task's user; a local file is only fetched if
// that user could read it.
package fetcher
