//go:build chaos

package chaos

import (
	"fmt"
	"strings"
	"sync"
	"time"
)

// Components whose leadership a scenario watches.
const (
	compMaster   = "master"
	compServices = "services"
	compJobs     = "jobs"
)

// leaderWatch follows the leaders of some components from before a fault
// until stop, polling every 100 ms: it notes when a component had no
// leader or another one after the fault, and when a leader was back.
type leaderWatch struct {
	comps  []string
	get    map[string]func() (int, bool)
	before map[string]int

	mu      sync.Mutex
	faultAt time.Time
	lostAt  map[string]time.Time // first time after the fault without the old leader
	backAt  map[string]time.Time // first time a leader served again after that

	stopCh chan struct{}
	done   chan struct{}
}

// watchLeaders records the current leaders of comps and starts polling.
func watchLeaders(c *cluster, comps ...string) *leaderWatch {
	w := &leaderWatch{
		comps: comps,
		get: map[string]func() (int, bool){
			compMaster: c.masterLeader, compServices: c.servicesLeader, compJobs: c.jobsLeader,
		},
		before: map[string]int{},
		lostAt: map[string]time.Time{}, backAt: map[string]time.Time{},
		stopCh: make(chan struct{}), done: make(chan struct{}),
	}
	for _, comp := range comps {
		i, _ := w.get[comp]()
		w.before[comp] = i
	}
	go w.poll()
	return w
}

// fault tells the watch when the fault happened; changes before it are
// ignored.
func (w *leaderWatch) fault(at time.Time) {
	w.mu.Lock()
	w.faultAt = at
	w.mu.Unlock()
}

func (w *leaderWatch) poll() {
	defer close(w.done)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-w.stopCh:
			return
		case <-tick.C:
		}
		for _, comp := range w.comps {
			i, ok := w.get[comp]()
			now := time.Now()
			w.mu.Lock()
			if !w.faultAt.IsZero() && w.backAt[comp].IsZero() {
				if w.lostAt[comp].IsZero() && (!ok || i != w.before[comp]) {
					w.lostAt[comp] = now
				}
				if !w.lostAt[comp].IsZero() && ok {
					w.backAt[comp] = now
				}
			}
			w.mu.Unlock()
		}
	}
}

// stop ends the polling.
func (w *leaderWatch) stop() {
	select {
	case <-w.stopCh:
	default:
		close(w.stopCh)
	}
	<-w.done
}

// back returns when a leader of comp served again after the fault took
// the old one away; zero if that has not happened.
func (w *leaderWatch) back(comp string) time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.backAt[comp]
}

// summary renders, per component, the time from the fault to a leader
// serving again: "master 4.3s", "master kept" if leadership never
// changed, "master none" if it was lost and never came back.
func (w *leaderWatch) summary() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var parts []string
	for _, comp := range w.comps {
		var s string
		switch {
		case w.lostAt[comp].IsZero():
			s = "kept"
		case w.backAt[comp].IsZero():
			s = "none"
		default:
			s = fmt.Sprintf("%.1fs", w.backAt[comp].Sub(w.faultAt).Seconds())
		}
		parts = append(parts, comp+" "+s)
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, ", ")
}
