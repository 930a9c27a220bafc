// Package chaos is corral's fault-injection suite: it starts a whole
// cluster of real processes per scenario (ZooKeeper, Postgres, two masters,
// three agents, two services and two jobs instances, and an in-process
// probe framework), keeps it busy (or lets it go idle, for a fault that
// needs the frameworks' offers suppressed), injects one fault (a leader
// killed, an agent killed, restarted or partitioned, Postgres or ZooKeeper
// restarted, a scale-up accepted while the master fails over), waits for
// the cluster to converge and checks what must survive any fault:
//
//   - every app and job whose creation the API acknowledged exists;
//   - every app runs exactly its instances (healthy where checked), and
//     the kernel runs exactly those tasks for the services framework;
//   - every scheduled second of every job has exactly one run, which ran
//     or says why not (MISSED, SKIPPED);
//   - every task the probe launched got exactly one terminal update.
//
// It measures, per scenario, the time to a new leader, the time until the
// desired state is back, and tasks lost and runs missed or doubled, and
// prints them as one table.
//
// The tests are behind the build tag "chaos", so `go test ./...` skips
// them; `make chaos` runs them (as root: the partition scenario puts an
// agent in a network namespace of its own).
package chaos
