package zkelect

import (
	"testing"
	"time"

	"corral/internal/testzk"
)

// TestDetectorForgetsAfterSessionTimeout cuts a detector off: it keeps the
// leader it saw for a session timeout, then names none until it sees the
// members again.
func TestDetectorForgetsAfterSessionTimeout(t *testing.T) {
	zkc := testzk.Start(t, 1)
	p := newProxy(t, zkc.Servers()[0])
	el := newElection(t, zkc.URL("/corral"))
	el.add("a", options(t))
	el.leader()
	o := options(t)
	o.SessionTimeout = 2 * time.Second
	viaProxy := el.url
	viaProxy.Servers = []string{p.addr()}
	d := NewDetector(viaProxy, o)
	runDetector(t, d)
	eventually(t, "the detector sees a", func() bool { l, ok := d.Leader(); return ok && string(l.Data) == "a" })

	p.cut(true)
	eventually(t, "the detector forgets a", func() bool { _, ok := d.Leader(); return !ok })
	p.cut(false)
	eventually(t, "the detector sees a again", func() bool { l, ok := d.Leader(); return ok && string(l.Data) == "a" })
}
