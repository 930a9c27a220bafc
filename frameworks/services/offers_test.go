package services

import "testing"

func TestOfferCall(t *testing.T) {
	tests := []struct {
		name                string
		wanted, prev        int
		suppressed, restate bool
		want                offersAction
	}{
		{"idle stays suppressed", 0, 0, true, false, offersKeep},
		{"becoming idle suppresses", 0, 1, false, false, offersSuppress},
		{"an app wants launches", 1, 0, true, false, offersRevive},
		{"more apps want launches: clear filters", 2, 1, false, false, offersRevive},
		{"the same apps still want launches", 1, 1, false, false, offersKeep},
		{"fewer apps want launches", 1, 2, false, false, offersKeep},
		// A scale-up accepted while the master was away: its REVIVE was
		// sent then, and the new master has us suppressed.
		{"resubscribed with launches wanted", 1, 1, false, true, offersRevive},
		{"resubscribed idle", 0, 0, true, true, offersSuppress},
		{"resubscribed idle, believed revived", 0, 0, false, true, offersSuppress},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := offerCall(tt.wanted, tt.prev, tt.suppressed, tt.restate); got != tt.want {
				t.Errorf("offerCall(%d, %d, %v, %v) = %v; want %v", tt.wanted, tt.prev, tt.suppressed, tt.restate, got, tt.want)
			}
		})
	}
}
