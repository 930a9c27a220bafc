package zkelect

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// detectorLog polls a Detector until the test ends and remembers every
// moment it named no leader, or another than want.
type detectorLog struct {
	mu    sync.Mutex
	wrong []string
}

func watchDetector(t *testing.T, d *Detector, want string) *detectorLog {
	l := &detectorLog{}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		for ctx.Err() == nil {
			got, ok := d.Leader()
			if !ok || string(got.Data) != want {
				l.mu.Lock()
				l.wrong = append(l.wrong, time.Now().Format("15:04:05.000")+" "+string(got.Data))
				l.mu.Unlock()
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
	t.Cleanup(func() { cancel(); wg.Wait() })
	return l
}

func (l *detectorLog) misses() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.wrong...)
}

// TestLeaderSurvivesShortBlip cuts the leader's and a detector's
// connections for less than the session timeout, as a ZooKeeper ensemble
// electing a leader of its own does: the leader leads on under the same
// leaderCtx, nobody else is elected, and the detector names the leader
// throughout.
func TestLeaderSurvivesShortBlip(t *testing.T) {
	el, p, a, b, conn := proxiedLeader(t, options(t))
	viaProxy := el.url
	viaProxy.Servers = []string{p.addr()}
	d := NewDetector(viaProxy, options(t))
	runDetector(t, d)
	eventually(t, "the detector sees a", func() bool { l, ok := d.Leader(); return ok && string(l.Data) == "a" })
	seen := watchDetector(t, d, "a")
	eventually(t, "a's two sessions and the detector's connect through the proxy", func() bool { return p.forwarded() == 3 })
	term := a.termLog()[0]

	cutAt := time.Now()
	p.cut(true)
	time.Sleep(1500 * time.Millisecond)
	p.cut(false)
	eventually(t, "a's two sessions and the detector's are back", func() bool { return p.forwarded() == 3 })
	// Had the connect request not renewed the lease, it would have run
	// out by now.
	time.Sleep(time.Until(cutAt.Add(sessionTimeout + time.Second)))

	if err := term.ctx.Err(); err != nil {
		t.Errorf("a's leaderCtx ended in the blip: %v", context.Cause(term.ctx))
	}
	if n, nb := a.terms.Load(), b.terms.Load(); n != 1 || nb != 0 || !a.e.IsLeader() {
		t.Errorf("a led %d terms (leads now: %v), b %d; want a still in its first term, b never", n, a.e.IsLeader(), nb)
	}
	if m := seen.misses(); len(m) > 0 {
		t.Errorf("the detector named no leader, or another, %d times in the blip, first %q", len(m), m[0])
	}
	if ms := members(t, conn, el.url.Path); len(ms) != 2 {
		t.Errorf("members after the blip = %v; want a's and b's", ms)
	}
}

// TestLeaderStepsDownBeforeSessionExpiry cuts the leader off for good: it
// leads on for a while, then stops before its session can have expired,
// so the other contender, elected once it has, starts only after the
// leader's leaderCtx was cancelled.
func TestLeaderStepsDownBeforeSessionExpiry(t *testing.T) {
	o := options(t)
	o.SessionTimeout = 4 * time.Second
	_, p, a, b, _ := proxiedLeader(t, o)
	term := a.termLog()[0]

	p.cut(true)
	// Its lease has most of the session timeout left: a leads on.
	time.Sleep(time.Second)
	if err := term.ctx.Err(); err != nil {
		t.Errorf("a's leaderCtx ended a second into the cut: %v; want it live while its session certainly is", context.Cause(term.ctx))
	}
	eventually(t, "b leads", func() bool { return b.leading.Load() })
	if !errors.Is(context.Cause(term.ctx), errSessionLost) {
		t.Errorf("a's leaderCtx ended with %v; want errSessionLost", context.Cause(term.ctx))
	}
	aEnd := a.termLog()[0].end
	bBegan := b.termLog()[0].began
	if aEnd.IsZero() || !aEnd.Before(bBegan) {
		t.Errorf("a stopped at %v, b began at %v; want a stopped first", aEnd.Format("15:04:05.000"), bBegan.Format("15:04:05.000"))
	}
	t.Logf("a stopped %v before b began", bBegan.Sub(aEnd))
}
