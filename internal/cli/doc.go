// Package cli implements corral's client verbs: the commands people and
// scripts use to look at and change a running cluster through its public
// HTTP APIs, exactly as any other client would.
//
//	corral cluster status                       master /state + both frameworks' /health
//	corral agent list                           master /state
//	corral task list [--app ID] [--all]         master /state (+ services /v2/apps/ID/tasks)
//	corral task logs TASK [-f] [--stderr]       agent /files/read (or master /agent/ID/files/read)
//	corral app list|show|deploy|scale|restart|delete|versions   services /v2/...
//	corral job list|show|add|run|runs|delete|graph              jobs /v1/...
//
// Vocabulary:
//
//   - group: the first word (cluster, agent, task, app, job); verb: the
//     second (list, show, deploy...). Every verb has --help.
//   - API: one of the three HTTP endpoints a verb talks to: the master
//     (--master, CORRAL_MASTER), services (--services, CORRAL_SERVICES)
//     and jobs (--jobs, CORRAL_JOBS).
//   - waiting: deploy, scale, restart, delete and job run follow what
//     they started (a deployment, a run) until it ends, printing a line
//     each time its progress changes, unless --detach.
//
// Output is for people by default (aligned tables, stable order) and for
// scripts with --json (the API's JSON, or a shape documented in the
// verb's --help). Errors go to stderr with the API's message. The exit
// code says how it went:
//
//	0  success
//	1  the operation failed (refused by the API, deployment replaced or
//	   timed out, run failed)
//	2  usage error
//	3  not found (app, job, task, run)
//	4  cannot reach an API (connection failed, or it answered 502/503/504)
//
// Formatting (tables, key/value blocks, progress lines) is pure and kept
// apart from the HTTP calls, so it is tested with golden files.
package cli
