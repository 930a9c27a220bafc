package healthcheck

import (
	"testing"
	"time"

	"corral/internal/purity"
)

// TestPure keeps the package a pure function of its inputs.
func TestPure(t *testing.T) {
	purity.Check(t, "fmt", "strconv", "time")
}

// TestObserveProperties: over many pseudo-random traces, a kill is decided
// at most once, exactly when the consecutive counted failures reach the
// limit, and never with a limit of 0.
func TestObserveProperties(t *testing.T) {
	seed := uint64(42)
	rnd := func(k uint64) uint64 { seed = seed*6364136223846793005 + 1442695040888963407; return (seed >> 33) % k }
	for trace := 0; trace < 2000; trace++ {
		limit := int(rnd(4))
		grace := time.Duration(rnd(5)) * time.Second
		start := time.Unix(0, 0)
		var st State
		p := Policy{Grace: grace, MaxFailures: limit}
		kills, run, seenOK := 0, 0, false
		for i := 0; i < 30; i++ {
			now := start.Add(time.Duration(i) * time.Second)
			ok := rnd(3) == 0
			var d Decision
			st, d = st.Observe(p, start, now, ok, "")
			if kills > 0 {
				if d.Kill || d.Changed {
					t.Fatalf("trace %d step %d: decision %+v after the kill", trace, i, d)
				}
				continue
			}
			switch {
			case ok:
				run, seenOK = 0, true
			case !seenOK && now.Sub(start) < grace:
				if !d.Ignored {
					t.Fatalf("trace %d step %d: failure in grace counted: %+v", trace, i, d)
				}
			default:
				run++
			}
			wantKill := limit > 0 && run >= limit
			if d.Kill != wantKill {
				t.Fatalf("trace %d step %d: Kill = %v with %d consecutive failures, max %d", trace, i, d.Kill, run, limit)
			}
			if d.Kill {
				kills++
			}
		}
	}
}

func TestKillMessage(t *testing.T) {
	for _, tc := range []struct {
		n      int
		detail string
		want   string
	}{
		{3, "command exited with status 1", "Task killed after 3 consecutive failed health checks: command exited with status 1"},
		{1, "", "Task killed after 1 consecutive failed health check"},
	} {
		if got := KillMessage(tc.n, tc.detail); got != tc.want {
			t.Errorf("KillMessage(%d, %q) = %q; want %q", tc.n, tc.detail, got, tc.want)
		}
	}
}
