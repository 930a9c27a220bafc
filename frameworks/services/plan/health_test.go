package plan

import (
	"testing"
	"time"
)

func TestHealthObserve(t *testing.T) {
	hc := HealthCheck{GracePeriod: 30 * time.Second, Interval: 10 * time.Second, Timeout: 5 * time.Second, MaxConsecutiveFailures: 3}
	started := t0
	at := func(s int) time.Time { return started.Add(time.Duration(s) * time.Second) }
	type probe struct {
		sec   int
		ok    bool
		known bool
		alive bool
		fails int
		kill  bool
	}
	tests := []struct {
		name   string
		hc     HealthCheck
		probes []probe
	}{
		{"grace ignores failures", hc, []probe{
			{10, false, false, false, 0, false},
			{20, false, false, false, 0, false},
			{30, false, true, false, 1, false}, // grace over
			{40, false, true, false, 2, false},
			{50, false, true, false, 3, true},
			{60, false, true, false, 4, true},
		}},
		{"after first success grace no longer applies", hc, []probe{
			{5, true, true, true, 0, false},
			{10, false, true, false, 1, false},
			{15, false, true, false, 2, false},
			{20, false, true, false, 3, true},
		}},
		{"success resets the count", hc, []probe{
			{40, false, true, false, 1, false},
			{50, false, true, false, 2, false},
			{60, true, true, true, 0, false},
			{70, false, true, false, 1, false},
			{80, false, true, false, 2, false},
		}},
		{"0 never kills", HealthCheck{MaxConsecutiveFailures: 0}, []probe{
			{1, false, true, false, 1, false},
			{2, false, true, false, 2, false},
			{3, false, true, false, 3, false},
			{100, false, true, false, 4, false},
		}},
		{"1 kills on the first counted failure", HealthCheck{MaxConsecutiveFailures: 1}, []probe{
			{1, false, true, false, 1, true},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var h Health
			for _, p := range tc.probes {
				var kill bool
				h, kill = h.Observe(tc.hc, started, at(p.sec), p.ok, "connection refused")
				if h.Known != p.known || h.Alive != p.alive || h.ConsecutiveFailures != p.fails || kill != p.kill {
					t.Fatalf("Observe(t=%ds, ok=%v) = known %v alive %v fails %d kill %v; want %v %v %d %v",
						p.sec, p.ok, h.Known, h.Alive, h.ConsecutiveFailures, kill, p.known, p.alive, p.fails, p.kill)
				}
				if !p.ok && (h.LastFailure != at(p.sec) || h.LastFailureCause != "connection refused") {
					t.Fatalf("Observe(t=%ds) LastFailure = %v %q; want recorded", p.sec, h.LastFailure, h.LastFailureCause)
				}
				if p.ok && (h.LastSuccess != at(p.sec) || h.FirstSuccess.IsZero()) {
					t.Fatalf("Observe(t=%ds) LastSuccess = %v FirstSuccess = %v", p.sec, h.LastSuccess, h.FirstSuccess)
				}
			}
		})
	}

	h, _ := Health{}.Observe(hc, started, at(1), true, "")
	h, _ = h.Observe(hc, started, at(2), true, "")
	if h.FirstSuccess != at(1) || h.LastSuccess != at(2) {
		t.Errorf("FirstSuccess, LastSuccess = %v, %v; want %v, %v", h.FirstSuccess, h.LastSuccess, at(1), at(2))
	}
}
