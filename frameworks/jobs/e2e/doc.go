// Package e2e holds the jobs framework's end-to-end tests: a real master,
// real agents and real `corral jobs` processes on one Postgres (and, for
// the leader-election tests, a real ZooKeeper), driven through the native
// and Chronos APIs.
package e2e
