package zkelect

import "testing"

func TestLowest(t *testing.T) {
	cases := []struct {
		name     string
		names    []string
		prefix   string
		want     string
		wantSeq  int64
		wantNone bool
	}{
		{name: "none", names: nil, prefix: "json.info_", wantNone: true},
		{name: "one", names: []string{"json.info_0000000003"}, prefix: "json.info_", want: "json.info_0000000003", wantSeq: 3},
		{name: "lowest wins, not first", names: []string{"json.info_0000000012", "json.info_0000000010", "json.info_0000000011"},
			prefix: "json.info_", want: "json.info_0000000010", wantSeq: 10},
		{name: "numeric, not lexical", names: []string{"json.info_9", "json.info_10"}, prefix: "json.info_", want: "json.info_9", wantSeq: 9},
		{name: "other prefixes ignored", names: []string{"info_0000000001", "log_replicas", "json.info_0000000005"},
			prefix: "json.info_", want: "json.info_0000000005", wantSeq: 5},
		{name: "non-numeric suffixes ignored", names: []string{"json.info_", "json.info_x1", "json.info_-1", "json.info_1a", "json.info_0000000007"},
			prefix: "json.info_", want: "json.info_0000000007", wantSeq: 7},
		{name: "overflowing suffix ignored", names: []string{"json.info_99999999999999999999", "json.info_2"},
			prefix: "json.info_", want: "json.info_2", wantSeq: 2},
		{name: "only non-members", names: []string{"a", "json.info_"}, prefix: "json.info_", wantNone: true},
		{name: "tie broken by name", names: []string{"m_01", "m_1", "m_001"}, prefix: "m_", want: "m_001", wantSeq: 1},
		{name: "custom prefix", names: []string{"json.info_1", "member_4"}, prefix: "member_", want: "member_4", wantSeq: 4},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, seq, ok := lowest(c.names, c.prefix)
			if c.wantNone {
				if ok {
					t.Fatalf("lowest(%q, %q) = %q, %d, true; want none", c.names, c.prefix, got, seq)
				}
				return
			}
			if !ok || got != c.want || seq != c.wantSeq {
				t.Errorf("lowest(%q, %q) = %q, %d, %v; want %q, %d, true", c.names, c.prefix, got, seq, ok, c.want, c.wantSeq)
			}
			// The order of the listing must not matter.
			rev := make([]string, len(c.names))
			for i, n := range c.names {
				rev[len(c.names)-1-i] = n
			}
			if got2, _, _ := lowest(rev, c.prefix); got2 != got {
				t.Errorf("lowest(%q, %q) = %q; want %q as for the other order", rev, c.prefix, got2, got)
			}
		})
	}
}
