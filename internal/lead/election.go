package lead

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Member is an instance as an election knows it.
type Member struct {
	// ID tells instances apart, also two that advertise the same URL; it
	// is unique to one run of a process.
	ID string
	// URL is the base URL of the instance's API ("http://host:port"),
	// where standbys forward.
	URL string
	// Data is what the instance published, as published (the masters'
	// MasterInfo JSON, the frameworks' {"url","id"}); nil when the
	// election publishes nothing.
	Data []byte
}

// Same reports whether m and o are one instance: the same ID, or the same
// URL (an instance that restarted before its old member expired is still
// itself; forwarding there would be forwarding to itself).
func (m Member) Same(o Member) bool {
	if m.ID != "" && m.ID == o.ID {
		return true
	}
	u, v := strings.TrimRight(m.URL, "/"), strings.TrimRight(o.URL, "/")
	return u != "" && u == v
}

// Election is how the instances of one component agree on a leader.
// Implementations are safe for concurrent use; Run is called once.
type Election interface {
	// Run contends until ctx ends. While this instance is elected it calls
	// lead, whose context ends as soon as leadership may have been lost;
	// lead must return soon after. If lead returns while its context is
	// still live, the instance gives leadership up (another may take it)
	// and contends again. Run returns ctx.Err() once ctx ends.
	Run(ctx context.Context, lead func(ctx context.Context)) error
	// Leader returns the leader as last seen, this instance included; ok
	// is false while none is known. It may lag the election.
	Leader() (m Member, ok bool)
}

// Sole is the election of an instance that runs alone: it always leads.
// Use it only where nothing else can contend (a single master without
// ZooKeeper, tests): two Sole instances on one database would depose each
// other at every term.
type Sole struct {
	self Member
}

// NewSole returns the election in which self alone leads.
func NewSole(self Member) *Sole { return &Sole{self: self} }

// soleRestart is how long Sole waits before leading again after lead
// returned by itself, so that a failing term does not spin.
const soleRestart = time.Second

// Run calls lead until ctx ends, each time under a context of its own,
// pausing soleRestart between calls.
func (s *Sole) Run(ctx context.Context, lead func(context.Context)) error {
	for ctx.Err() == nil {
		lctx, cancel := context.WithCancel(ctx)
		lead(lctx)
		cancel()
		if sleep(ctx, soleRestart) != nil {
			break
		}
	}
	return ctx.Err()
}

// Leader returns this instance: it always leads.
func (s *Sole) Leader() (Member, bool) { return s.self, true }

// memberJSON is what frameworks publish in ZooKeeper.
type memberJSON struct {
	URL string `json:"url"`
	ID  string `json:"id,omitempty"`
}

// EncodeMember returns the data a framework instance publishes:
// {"url": m.URL, "id": m.ID}.
func EncodeMember(m Member) []byte {
	b, _ := json.Marshal(memberJSON{URL: m.URL, ID: m.ID})
	return b
}

// DecodeMember reads data that EncodeMember wrote (unknown fields
// ignored, the id optional). Data without a URL is an error: nobody could
// forward to that member.
func DecodeMember(data []byte) (Member, error) {
	var j memberJSON
	if err := json.Unmarshal(data, &j); err != nil {
		return Member{}, fmt.Errorf("member data %q: %w", data, err)
	}
	if j.URL == "" {
		return Member{}, fmt.Errorf("member data %q has no url", data)
	}
	return Member{ID: j.ID, URL: j.URL, Data: append([]byte(nil), data...)}, nil
}

// sleep waits for d or until ctx ends, and returns ctx.Err().
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
	return ctx.Err()
}
