// Package e2e holds the kernel's end-to-end tests: a real master and real
// agents run as `corral` processes built from this tree, on a throwaway
// Postgres, with real task processes; a test framework built on
// kernel/sched drives them through the public scheduler API.
package e2e
