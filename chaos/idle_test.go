//go:build chaos

package chaos

import (
	"fmt"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"corral/kernel/master"
)

// The idle-scale scenario: services idles with its offers suppressed, the
// leading master dies, and at once the API accepts a scale-up. The new
// master knows the framework only from its SUBSCRIBE; if that lists the
// role as suppressed and nothing revives it, the deployment waits for
// offers for ever.
const (
	idleAppID   = "/chaos/idle"
	idleAppSize = 2
	// resumeBound is how long after the new master leads the added
	// instance must run and its deployment finish: a re-subscription,
	// the agents re-registering and one allocation, with room for a busy
	// machine. A revive that was lost never comes, so the bound only
	// has to be well under convergeTimeout.
	resumeBound = 20 * time.Second
)

// idleScale follows the scale-up of the idle-scale scenario.
type idleScale struct {
	deployment string    // the deployment the API acknowledged
	ackedAt    time.Time // when it did

	mu       sync.Mutex
	thirdAt  time.Time // when the app first ran idleAppSize+1 tasks
	doneAt   time.Time // when the deployment was first seen gone
	stop     chan struct{}
	stopOnce sync.Once
	done     chan struct{}
}

// halt stops follow and waits for it.
func (w *idleScale) halt() {
	w.stopOnce.Do(func() { close(w.stop) })
	<-w.done
}

// idleScaleScenario is the scenario; its steps share one idleScale.
func idleScaleScenario(name string) scenario {
	w := &idleScale{}
	return scenario{
		name: name, watch: []string{compMaster}, agentsAfter: numAgents, quiet: true,
		prepare: w.prepare, fault: w.fault, check: w.check,
	}
}

// prepare creates the idle app and waits until services is idle: every
// app deployed and its offers suppressed at the leading master.
func (w *idleScale) prepare(t *testing.T, f *faultRun) {
	t.Helper()
	f.l.addApp(t, sleepApp(idleAppID, idleAppSize))
	var why []string
	ok := waitUntil(60*time.Second, func() bool {
		why = appProblems(f.c, f.l)
		if st, err := f.c.state(); err != nil {
			why = append(why, "kernel: "+err.Error())
		} else if !servicesSuppressed(st) {
			why = append(why, "kernel: services is not suppressed")
		}
		return len(why) == 0
	})
	if !ok {
		t.Fatalf("services did not go idle (apps deployed, offers suppressed) within 60 s: %v", capped(why))
	}
	f.note("services idle before the fault: %s deployed with %d instances, the leading master holds all its roles suppressed", idleAppID, idleAppSize)
}

// fault kills the leading master and at once scales the idle app up by
// one through the services API, which needs no master to accept it.
func (w *idleScale) fault(t *testing.T, f *faultRun) {
	t.Helper()
	i := mustLeader(t, "master", f.c.masterLeader)
	f.begin()
	f.c.masters[i].kill(syscall.SIGKILL)
	id, err := f.c.marathon().scaleDeployment(idleAppID, idleAppSize+1)
	if err != nil {
		t.Fatalf("scaling %s to %d right after the kill: %v", idleAppID, idleAppSize+1, err)
	}
	w.deployment, w.ackedAt = id, time.Now()
	f.l.acknowledged(idleAppID, idleAppSize+1)
	f.note("master-%d killed; PUT %s instances %d acknowledged %v later (deployment %s)",
		i, idleAppID, idleAppSize+1, w.ackedAt.Sub(f.faultAt).Round(time.Millisecond), id)
	w.stop, w.done = make(chan struct{}), make(chan struct{})
	go w.follow(f.c)
	t.Cleanup(w.halt)
}

// follow polls the app and the deployments every 100 ms until it has
// seen the added instance run and the deployment end, or until stopped.
func (w *idleScale) follow(c *cluster) {
	defer close(w.done)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-w.stop:
			return
		case <-tick.C:
		}
		m := c.marathon()
		now := time.Now()
		w.mu.Lock()
		third, done := w.thirdAt, w.doneAt
		w.mu.Unlock()
		if third.IsZero() {
			if apps, err := m.apps(); err == nil {
				for _, a := range apps {
					if a.ID == idleAppID && a.TasksRunning >= idleAppSize+1 {
						third = now
					}
				}
			}
		}
		if done.IsZero() {
			if ids, err := m.deploymentIDs(); err == nil && !slices.Contains(ids, w.deployment) {
				done = now
			}
		}
		w.mu.Lock()
		w.thirdAt, w.doneAt = third, done
		w.mu.Unlock()
		if !third.IsZero() && !done.IsZero() {
			return
		}
	}
}

// check holds the scenario's invariant: the added instance runs and the
// deployment finishes within resumeBound of the new master leading.
func (w *idleScale) check(f *faultRun) []string {
	if w.stop == nil {
		return []string{"the scale-up never happened"}
	}
	w.halt()
	w.mu.Lock()
	third, done := w.thirdAt, w.doneAt
	w.mu.Unlock()
	elected := f.watch.back(compMaster)
	if elected.IsZero() {
		return []string{"kernel: no master led again after the leader was killed"}
	}
	// The watch polls every 100 ms: the instance may run a moment
	// before it sees the new master lead.
	since := func(t time.Time) string { return t.Sub(elected).Round(10 * time.Millisecond).String() }
	ran, finished := "never ran", "never finished"
	if !third.IsZero() {
		ran = "running " + since(third) + " after that"
	}
	if !done.IsZero() {
		finished = "finished " + since(done) + " after that"
	}
	f.note("new master leading %v after the kill; instance %d of %s %s; deployment %s %s",
		elected.Sub(f.faultAt).Round(100*time.Millisecond), idleAppSize+1, idleAppID, ran, w.deployment, finished)
	var ps []string
	switch {
	case third.IsZero():
		ps = append(ps, fmt.Sprintf("app %s: instance %d, acknowledged while the master failed over, never ran (new master leading for %v)",
			idleAppID, idleAppSize+1, time.Since(elected).Round(time.Second)))
	case third.Sub(elected) > resumeBound:
		ps = append(ps, fmt.Sprintf("app %s: instance %d ran %s after the new master led; want within %v", idleAppID, idleAppSize+1, since(third), resumeBound))
	}
	switch {
	case done.IsZero():
		ps = append(ps, fmt.Sprintf("services: deployment %s (scale %s to %d) never finished", w.deployment, idleAppID, idleAppSize+1))
	case done.Sub(elected) > resumeBound:
		ps = append(ps, fmt.Sprintf("services: deployment %s finished %s after the new master led; want within %v", w.deployment, since(done), resumeBound))
	}
	return ps
}

// servicesSuppressed reports whether the kernel holds every role of the
// services framework suppressed.
func servicesSuppressed(st master.State) bool {
	for _, fw := range st.Frameworks {
		if fw.Name == "services" && fw.Connected {
			for _, r := range fw.Roles {
				if !slices.Contains(fw.SuppressedRoles, r) {
					return false
				}
			}
			return len(fw.Roles) > 0
		}
	}
	return false
}

// waitUntil polls cond every 250 ms for up to d and reports whether it
// came to hold.
func waitUntil(d time.Duration, cond func() bool) bool {
	for deadline := time.Now().Add(d); ; time.Sleep(250 * time.Millisecond) {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
	}
}
