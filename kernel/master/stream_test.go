package master

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"corral/internal/migrate"
	"corral/internal/testpg"
	"corral/kernel/internal/agentproto"
	"corral/kernel/internal/registry"
	"corral/kernel/mesos"
	"corral/kernel/resource"
)

// smallBuffers gives each accepted connection a small kernel send buffer,
// so that the master's writes to a client that stops reading block after
// tens of KiB instead of megabytes.
type smallBuffers struct{ net.Listener }

func (l smallBuffers) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetWriteBuffer(16 << 10)
	}
	return c, err
}

// startMasterSmallBuffers is startMaster on a smallBuffers listener.
func startMasterSmallBuffers(t *testing.T, mutate func(*Config)) *testMaster {
	t.Helper()
	db := testpg.URL(t)
	if err := migrate.Up(t.Context(), db); err != nil {
		t.Fatal(err)
	}
	store, err := registry.Open(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.DB = db
	cfg.Listen = ln.Addr().String()
	cfg.Advertise = "http://" + ln.Addr().String()
	cfg.AgentPingInterval = 200 * time.Millisecond
	cfg.AllocationInterval = 100 * time.Millisecond
	mutate(&cfg)
	m, err := New(cfg, store, slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := m.Serve(ctx, smallBuffers{ln}); err != nil {
			t.Errorf("Serve: %v", err)
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		store.Close()
	})
	select {
	case <-m.Ready():
	case <-time.After(20 * time.Second):
		t.Fatal("master did not recover its registry")
	}
	return &testMaster{url: cfg.Advertise, store: store, m: m}
}

// stalledSubscribe sends a SUBSCRIBE on a raw connection with a small
// receive buffer and reads nothing back: a framework that stopped reading
// its stream.
func stalledSubscribe(t *testing.T, master, info string) net.Conn {
	t.Helper()
	d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) { serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4<<10) })
		return errors.Join(err, serr)
	}}
	conn, err := d.DialContext(t.Context(), "tcp", strings.TrimPrefix(master, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	body := `{"type":"SUBSCRIBE","subscribe":{"framework_info":` + info + `}}`
	req := fmt.Sprintf("POST /api/v1/scheduler HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nAccept: application/json\r\nContent-Length: %d\r\n\r\n%s",
		strings.TrimPrefix(master, "http://"), len(body), body)
	if _, err := io.WriteString(conn, req); err != nil {
		t.Fatal(err)
	}
	return conn
}

func frameworkNamed(st State, name string) *FrameworkState {
	for i := range st.Frameworks {
		if st.Frameworks[i].Name == name {
			return &st.Frameworks[i]
		}
	}
	return nil
}

// stallOnBigOffer registers an agent whose offers are far larger than a
// stalled connection's buffers (the first offer's write blocks),
// subscribes a framework "stalled" that reads nothing, and waits until
// the master has disconnected it and taken its offers back; it returns
// the agent and the framework's connection.
func stallOnBigOffer(t *testing.T, tm *testMaster) (*fakeAgent, net.Conn) {
	t.Helper()
	res, _ := resource.Parse("cpus:1;mem:128")
	call := agentproto.Call{Type: agentproto.CallRegister, Register: &agentproto.Register{Info: agentproto.AgentInfo{
		Hostname: "bighost", Endpoint: "http://127.0.0.1:1", Resources: res.Wire(""), Cgroups: agentproto.CgroupsNone,
		Attributes: []mesos.Attribute{{Name: "blob", Type: mesos.Text, Text: &mesos.TextValue{Value: strings.Repeat("x", 512<<10)}}},
	}}}
	as := openStream(t, tm.url+agentproto.Path, call)
	ev := as.nextAgentEvent(agentproto.EventRegistered)
	a := &fakeAgent{t: t, master: tm.url, id: ev.Registered.AgentID, conn: ev.Registered.ConnectionID, s: as}
	a.keepAlive(50 * time.Millisecond)

	conn := stalledSubscribe(t, tm.url, `{"user":"u","name":"stalled","failover_timeout":3600}`)
	waitFor(t, func() bool {
		f := frameworkNamed(getState(t, tm.url), "stalled")
		return f != nil && f.State == "disconnected" && len(f.Offers) == 0
	})
	// The master closed the connection: what was buffered drains, then it ends.
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.Copy(io.Discard, conn); errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("the stalled framework's connection is still open after it was disconnected")
	}
	return a, conn
}

// A framework that stops reading its stream is disconnected once a write
// to it has been stuck for FrameworkStreamTimeout, and the offers it held
// go back to the allocator: another framework gets them.
func TestFrameworkThatStopsReadingLosesItsOffers(t *testing.T) {
	tm := startMasterSmallBuffers(t, func(c *Config) {
		c.FrameworkStreamTimeout = 300 * time.Millisecond
		c.OfferTimeout = 0 // offers are never rescinded: only the stream's timeout frees them
	})
	a, _ := stallOnBigOffer(t, tm)

	g := subscribe(t, tm.url, `{"user":"u","name":"reader"}`)
	o := g.s.nextEvent(mesos.EventOffers).Offers.Offers[0]
	got, _ := resource.FromWire(o.Resources)
	if o.AgentID.Value != a.id || got.Scalar(resource.CPUs) != 1 {
		t.Errorf("offer to the other framework = agent %s, %s; want all of agent %s", o.AgentID.Value, got, a.id)
	}
}

// A framework whose stream's queue would pass FrameworkStreamQueueBytes
// is disconnected at once, long before its stream's write timeout, and
// the offers it held go back to the allocator. (With a bound this small
// a reading framework would lose its stream to this agent's offer too:
// a record larger than the bound passes only an empty queue.)
func TestFrameworkWhoseQueueFillsIsDisconnected(t *testing.T) {
	tm := startMasterSmallBuffers(t, func(c *Config) {
		c.FrameworkStreamTimeout = time.Hour // only the queue's bound can end the stream
		c.FrameworkStreamQueueBytes = 1 << 10
		c.FrameworkHeartbeatInterval = 10 * time.Millisecond // events keep coming while the first offer's write blocks
		c.OfferTimeout = 0
	})
	a, _ := stallOnBigOffer(t, tm)
	// The offer went back: the agent has nothing offered.
	for _, ag := range getState(t, tm.url).Agents {
		if ag.ID == a.id && ag.OfferedResources["cpus"] != 0.0 {
			t.Errorf("agent %s still has %v cpus offered after the framework was disconnected", a.id, ag.OfferedResources["cpus"])
		}
	}
}

// A framework that neither accepts nor declines an offer loses it after
// OfferTimeout: RESCIND, and the resources are offered again.
func TestOffersOutstandingTooLongAreRescinded(t *testing.T) {
	tm := startMaster(t, func(c *Config) { c.OfferTimeout = 200 * time.Millisecond })
	a := registerAgent(t, tm.url, "", "cpus:1;mem:128", nil)
	a.keepAlive(50 * time.Millisecond)
	f := subscribe(t, tm.url, plainFramework)
	o := f.s.nextEvent(mesos.EventOffers).Offers.Offers[0]
	if r := f.s.nextEvent(mesos.EventRescind).Rescind; r.OfferID != o.ID {
		t.Errorf("RESCIND of %s; want the offer %s", r.OfferID.Value, o.ID.Value)
	}
	o2 := f.s.nextEvent(mesos.EventOffers).Offers.Offers[0]
	if o2.ID == o.ID || o2.AgentID.Value != a.id {
		t.Errorf("offer after the rescind = %s on %s; want a new offer of agent %s", o2.ID.Value, o2.AgentID.Value, a.id)
	}
	// The rescinded offer can no longer be used.
	code, _ := f.call(`{"type":"ACCEPT",` + f.fid() + `,"accept":{"offer_ids":[{"value":"` + o.ID.Value + `"}],"operations":[{"type":"LAUNCH","launch":{"task_infos":[{"name":"t","task_id":{"value":"t"},"agent_id":{"value":"` + a.id + `"},"resources":[{"name":"cpus","type":"SCALAR","scalar":{"value":1}}],"command":{"value":"true"}}]}}]}}`)
	if up := f.s.nextEvent(mesos.EventUpdate).Update.Status; code != 202 || up.TaskID.Value != "t" || up.Reason != mesos.ReasonInvalidOffers {
		t.Errorf("ACCEPT of the rescinded offer = %d, then %+v; want 202 and the task dropped for invalid offers", code, up)
	}
}
