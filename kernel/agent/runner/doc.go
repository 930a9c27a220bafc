// Package runner starts task processes and learns how they end, across
// restarts of the agent.
//
// Each task runs under a wrapper: a few lines of /bin/sh (no Go helper, so a
// task costs the agent about one small shell process), started in its own
// session and process group, with the sandbox as cwd and stdout/stderr
// appended to files there:
//
//	agent                         wrapper (/bin/sh, pgid = its pid)
//	  fork+exec ─────────────────▶ blocks reading fd 3
//	  put pid in cgroup
//	  write "go", close fd 3 ───▶ trap : TERM INT HUP   (survives the group's SIGTERM)
//	                                runs the command      (default signal handling)
//	  pidfd readable ◀──────────── echo $? > exit file; exits
//	  read exit file, OOM counter,
//	  kill leftovers, remove cgroup
//
// The wrapper runs as the task's user (Spec.User): the agent applies the
// user's uid, gid and groups between fork and exec, and gives it the
// sandbox (chown) first, so the wrapper can create stdout and stderr
// there. The exit file stays in the agent's checkpoint, which the user
// cannot write: the agent opens it and the wrapper inherits it as fd 4.
// Only a root agent can switch users; cgroups are made and joined by the
// agent, so limits hold whoever the task runs as.
//
// The wrapper waits for the agent before running the command so that no
// process of the task escapes its cgroup. Its exit file outlives the agent:
// a restarted agent adopts the wrapper by pid (guarded against pid reuse by
// the process start time), watches it through a pidfd and still reads the
// command's real exit code. Exit codes above 128 mean the command died of
// signal code-128 (the shell's convention).
//
// Watching costs a parked goroutine per task: the pidfd is registered with
// the Go network poller, so no OS thread blocks in wait.
//
// Limits use cgroups (v1 hierarchies or the v2 unified one) when the
// agent may write them; see DetectCgroups. A v1 task cgroup is made,
// joined and removed through the cgroupfs directly, a mkdir and a write
// per setting, since that path runs at every task's start and end; the
// rest (v2, resizing, detection) goes through containerd/cgroups.
package runner
