// Package checkpoint is the agent's on-disk state under its work dir, what a
// restarted agent recovers its tasks and unacknowledged status updates from.
//
//	<work_dir>/
//	  meta/agent.json                       agent id + boot id
//	  meta/frameworks/<fid>/tasks/<tid>/
//	      journal.jsonl                     one Record per line: the task (TaskInfo,
//	                                        FrameworkInfo, sandbox, cgroup) first,
//	                                        then updates, acks, spawned pid, kill
//	      exit                              the command's exit code, written by the wrapper
//	  sandboxes/<fid>/<tid>/                the task's cwd: stdout, stderr, files
//
// A task's directory name is its id when the id is a safe path component,
// otherwise "~" and a hash; the real ids are inside the files.
//
// The journal is append-only with one write(2) per record, so a crashed
// agent leaves at worst a torn last line, which Load drops (and truncates
// away so later appends start on a clean line). Nothing is fsynced: the goal
// is surviving a crash of the agent process; a reboot kills the tasks anyway
// and makes the agent start afresh (see Reset).
package checkpoint
