// Package place decides where new instances of an app or a job go: it
// fits a Demand (resources, ports, constraints) onto resource offers,
// honouring Marathon's constraint operators against the sites of the
// instances already running, and explains every offer it could not use
// ("insufficient mem: needs 128, offer has 64", "constraint [hostname
// UNIQUE] not met: …"). Both frameworks place with it. It is pure.
package place
