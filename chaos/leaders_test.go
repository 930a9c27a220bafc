//go:build chaos

package chaos

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// Components whose leadership a scenario watches.
const (
	compMaster   = "master"
	compServices = "services"
	compJobs     = "jobs"
)

// leaderWatch follows the leaders of some components from before a fault
// until stop, polling every 100 ms: it notes when a component had no
// leader or another one after the fault, and when a leader was back, and
// adds up the time each component was seen without a leader after the
// fault (from each poll that found none to the next poll).
type leaderWatch struct {
	comps  []string
	get    map[string]func() (int, bool)
	before map[string]int

	mu      sync.Mutex
	faultAt time.Time
	lostAt  map[string]time.Time     // first time after the fault without the old leader
	backAt  map[string]time.Time     // first time a leader served again after that
	without map[string]time.Duration // time seen without a leader since the fault
	other   map[string]bool          // another instance was seen leading since the fault
	lastAt  map[string]time.Time     // the previous poll of the component
	lastOK  map[string]bool          // whether it found a leader

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
		without: map[string]time.Duration{}, other: map[string]bool{},
		lastAt: map[string]time.Time{}, lastOK: map[string]bool{},
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
			if !w.faultAt.IsZero() {
				if from := w.lastAt[comp]; !w.lastOK[comp] && !from.IsZero() {
					if from.Before(w.faultAt) {
						from = w.faultAt
					}
					w.without[comp] += now.Sub(from)
				}
				w.other[comp] = w.other[comp] || (ok && i != w.before[comp])
			}
			w.lastAt[comp], w.lastOK[comp] = now, ok
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

// withoutLeader renders, per component, the time it was seen without a
// leader since the fault, and whether another instance led: "master 0.0s,
// services 2.3s (another instance led)".
func (w *leaderWatch) withoutLeader() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var parts []string
	for _, comp := range w.comps {
		s := fmt.Sprintf("%s %.1fs", comp, w.without[comp].Seconds())
		if w.other[comp] {
			s += " (another instance led)"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ", ")
}

// termTables are the tables that hold each component's latest epoch
// (see corral/internal/lead.Fence): a new term, by any instance,
// increments it.
var termTables = map[string]string{compMaster: "kernel.term", compServices: "services.term", compJobs: "jobs.term"}

// epochs reads the latest epoch of each of comps from the database; a
// component whose epoch cannot be read is left out.
func epochs(db string, comps []string) map[string]int64 {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out := map[string]int64{}
	conn, err := pgx.Connect(ctx, db)
	if err != nil {
		return out
	}
	defer conn.Close(ctx)
	for _, comp := range comps {
		var e int64
		if conn.QueryRow(ctx, "SELECT epoch FROM "+termTables[comp]).Scan(&e) == nil {
			out[comp] = e
		}
	}
	return out
}

// termsBegun renders how many terms each of comps began between two
// readings of epochs: "master 0, services 1, jobs 0"; "?" where either
// reading is missing.
func termsBegun(comps []string, before, after map[string]int64) string {
	var parts []string
	for _, comp := range comps {
		b, okb := before[comp]
		a, oka := after[comp]
		if okb && oka {
			parts = append(parts, fmt.Sprintf("%s %d", comp, a-b))
		} else {
			parts = append(parts, comp+" ?")
		}
	}
	return strings.Join(parts, ", ")
}
