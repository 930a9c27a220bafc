package place

import (
	"testing"
	"time"

	"corral/kernel/mesos"
)

func TestUnavailable(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	at := func(d time.Duration) mesos.TimeInfo {
		return mesos.TimeInfo{Nanoseconds: mesos.Int(now.Add(d).UnixNano())}
	}
	hour := &mesos.DurationInfo{Nanoseconds: mesos.Int(time.Hour)}
	for _, tc := range []struct {
		name string
		u    *mesos.Unavailability
		want bool
	}{
		{"none", nil, false},
		{"drained: for good", &mesos.Unavailability{Start: at(-time.Minute)}, true},
		{"window within the lookahead", &mesos.Unavailability{Start: at(time.Hour), Duration: hour}, true},
		{"window further ahead", &mesos.Unavailability{Start: at(48 * time.Hour), Duration: hour}, false},
		{"inside the window", &mesos.Unavailability{Start: at(-time.Minute), Duration: hour}, true},
		{"window over", &mesos.Unavailability{Start: at(-2 * time.Hour), Duration: hour}, false},
	} {
		if got := Unavailable(&mesos.Offer{Unavailability: tc.u}, now); got != tc.want {
			t.Errorf("%s: Unavailable = %v; want %v", tc.name, got, tc.want)
		}
	}
}
