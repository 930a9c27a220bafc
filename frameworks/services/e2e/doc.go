// Package e2e holds the services framework's end-to-end tests: a real
// master, real agents and a real `corral services` process, driven through
// the Marathon-compatible REST API as Marathon tooling would.
package e2e
