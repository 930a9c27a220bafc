package zkelect

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"corral/internal/testzk"
)

// sessionTimeout is long enough that a test passing within it shows that
// leadership moved without waiting for a session to expire.
const sessionTimeout = 8 * time.Second

// options returns Options that log to the test's output.
func options(t *testing.T) Options {
	h := slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelInfo})
	return Options{SessionTimeout: sessionTimeout, Logger: slog.New(h)}
}

// election is a set of contenders under one base path, with a counter of
// contenders inside lead that must never exceed one.
type election struct {
	t      *testing.T
	url    URL
	active atomic.Int32 // contenders inside lead right now
	// overlap, when set, lets two contenders lead at once without failing
	// the test (see TestMemberDeletedStopsLeading).
	overlap bool
	mu      sync.Mutex
	cs      []*contender
}

// contender is one Elector running in its own goroutine.
type contender struct {
	name    string
	e       *Elector
	cancel  context.CancelFunc
	done    chan error // receives Run's result
	leading atomic.Bool
	terms   atomic.Int32 // how many times lead was called
	// quit, when set, makes lead return by itself in its first term once
	// quit is closed.
	quit chan struct{}

	mu  sync.Mutex
	log []termLog // one per call of lead, in order
}

// termLog is one call of a contender's lead: its leaderCtx, when it began,
// and when lead saw leaderCtx end (zero while it has not).
type termLog struct {
	ctx        context.Context
	began, end time.Time
}

// termLog returns a copy of the contender's term log.
func (c *contender) termLog() []termLog {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.log)
}

func newElection(t *testing.T, u string) *election {
	t.Helper()
	url, err := ParseURL(u)
	if err != nil {
		t.Fatal(err)
	}
	return &election{t: t, url: url}
}

// add starts a contender whose data is its name.
func (el *election) add(name string, o Options) *contender {
	t := el.t
	t.Helper()
	c := &contender{name: name, e: NewElector(el.url, []byte(name), o), done: make(chan error, 1)}
	return el.start(c)
}

func (el *election) start(c *contender) *contender {
	t := el.t
	ctx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	go func() {
		c.done <- c.e.Run(ctx, func(ctx context.Context) {
			if n := el.active.Add(1); n > 1 && !el.overlap {
				t.Errorf("%d contenders lead at once (%s just started)", n, c.name)
			}
			c.mu.Lock()
			c.log = append(c.log, termLog{ctx: ctx, began: time.Now()})
			n := len(c.log)
			c.mu.Unlock()
			c.leading.Store(true)
			if c.terms.Add(1) == 1 && c.quit != nil {
				select {
				case <-c.quit:
				case <-ctx.Done():
				}
			} else {
				<-ctx.Done()
			}
			c.mu.Lock()
			c.log[n-1].end = time.Now()
			c.mu.Unlock()
			c.leading.Store(false)
			el.active.Add(-1)
		})
	}()
	el.mu.Lock()
	el.cs = append(el.cs, c)
	el.mu.Unlock()
	t.Cleanup(func() { c.stop(t) })
	return c
}

// stop cancels the contender's Run and waits for it; it can be called more
// than once.
func (c *contender) stop(t *testing.T) {
	t.Helper()
	c.cancel()
	select {
	case err, ok := <-c.done:
		if ok && !errors.Is(err, context.Canceled) {
			t.Errorf("%s: Run = %v; want context.Canceled", c.name, err)
		}
		if ok {
			close(c.done)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("%s: Run did not return within 30s of its context ending", c.name)
	}
}

// leaders returns the contenders inside lead.
func (el *election) leaders() []*contender {
	el.mu.Lock()
	defer el.mu.Unlock()
	var ls []*contender
	for _, c := range el.cs {
		if c.leading.Load() {
			ls = append(ls, c)
		}
	}
	return ls
}

// leader waits until exactly one contender leads and returns it.
func (el *election) leader() *contender {
	el.t.Helper()
	var l *contender
	eventually(el.t, "one contender leads", func() bool {
		ls := el.leaders()
		if len(ls) == 1 {
			l = ls[0]
		}
		return len(ls) == 1
	})
	return l
}

// eventually polls cond until it holds, failing the test after a generous
// deadline.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(45 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// client opens a plain ZooKeeper session for looking at and meddling with
// the znodes.
func client(t *testing.T, servers []string) *zk.Conn {
	t.Helper()
	conn, _, err := zk.Connect(servers, sessionTimeout, zk.WithLogger(zkLogger{slog.New(slog.DiscardHandler)}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(conn.Close)
	return conn
}

// members returns the names of the members under base, lowest first.
func members(t *testing.T, conn *zk.Conn, base string) []string {
	t.Helper()
	children, _, err := conn.Children(base)
	if err != nil {
		t.Fatalf("Children(%s): %v", base, err)
	}
	var ms []string
	for _, c := range children {
		if _, ok := sequence(c, DefaultPrefix); ok {
			ms = append(ms, c)
		}
	}
	slices.SortFunc(ms, func(a, b string) int {
		x, _ := sequence(a, DefaultPrefix)
		y, _ := sequence(b, DefaultPrefix)
		return int(x - y)
	})
	return ms
}

// agreed reports whether l names the lowest member and carries want.
func agreed(l Leader, ok bool, base, lowestMember, want string) bool {
	return ok && l.Node == base+"/"+lowestMember && string(l.Data) == want
}

func TestOneOfThreeLeads(t *testing.T) {
	zkc := testzk.Start(t, 1)
	u := zkc.URL("/corral/masters")
	el := newElection(t, u)
	for i := range 3 {
		el.add(fmt.Sprintf("m%d", i), options(t))
	}
	d := NewDetector(el.url, options(t))
	runDetector(t, d)

	l := el.leader()
	conn := client(t, zkc.Servers())
	eventually(t, "all three have joined", func() bool { return len(members(t, conn, el.url.Path)) == 3 })
	ms := members(t, conn, el.url.Path)
	data, _, err := conn.Get(el.url.Path + "/" + ms[0])
	if err != nil {
		t.Fatal(err)
	}
	if string(data) != l.name {
		t.Errorf("leader is %s, but the lowest member %s holds %q", l.name, ms[0], data)
	}
	for _, c := range el.cs {
		if got, want := c.e.IsLeader(), c == l; got != want {
			t.Errorf("%s: IsLeader() = %v; want %v", c.name, got, want)
		}
		eventually(t, c.name+" sees the leader", func() bool {
			got, ok := c.e.Leader()
			return agreed(got, ok, el.url.Path, ms[0], l.name)
		})
	}
	eventually(t, "the detector sees the leader", func() bool {
		got, ok := d.Leader()
		return agreed(got, ok, el.url.Path, ms[0], l.name)
	})
	if got, _ := d.Leader(); got.Seq != mustSeq(t, ms[0]) {
		t.Errorf("detector: Leader().Seq = %d; want %d", got.Seq, mustSeq(t, ms[0]))
	}
	if len(el.leaders()) != 1 || l.terms.Load() != 1 {
		t.Errorf("leaders = %d, %s's terms = %d; want one leader in its first term", len(el.leaders()), l.name, l.terms.Load())
	}
}

func mustSeq(t *testing.T, name string) int64 {
	t.Helper()
	s, ok := sequence(name, DefaultPrefix)
	if !ok {
		t.Fatalf("%q is not a member name", name)
	}
	return s
}

// runDetector runs d until the test ends.
func runDetector(t *testing.T, d *Detector) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Detector.Run = %v; want context.Canceled", err)
		}
		if _, ok := d.Leader(); ok {
			t.Error("Detector.Leader() reports a leader after Run returned")
		}
	})
}

func TestCleanShutdownHandsOverAtOnce(t *testing.T) {
	zkc := testzk.Start(t, 1)
	el := newElection(t, zkc.URL("/corral"))
	for i := range 3 {
		el.add(fmt.Sprintf("m%d", i), options(t))
	}
	conn := client(t, zkc.Servers())
	old := el.leader()
	oldNode, _ := old.e.Leader()

	start := time.Now()
	old.stop(t)
	if old.e.IsLeader() {
		t.Error("IsLeader() = true after Run returned")
	}
	next := el.leader()
	took := time.Since(start)
	if next == old {
		t.Fatal("the stopped contender still leads")
	}
	// Waiting for the session to expire would take sessionTimeout; a clean
	// shutdown deletes the member instead.
	if took >= sessionTimeout {
		t.Errorf("the next leader took %v; want well under the session timeout %v", took, sessionTimeout)
	}
	t.Logf("leadership moved in %v", took)
	ms := members(t, conn, el.url.Path)
	if len(ms) != 2 || slices.Contains(ms, oldNode.Node[len(el.url.Path)+1:]) {
		t.Errorf("members after shutdown = %v; want two, without %s", ms, oldNode.Node)
	}
	eventually(t, "the next leader's Leader() names itself", func() bool {
		l, ok := next.e.Leader()
		return ok && string(l.Data) == next.name
	})
}

func TestLeadReturningGivesUpLeadership(t *testing.T) {
	zkc := testzk.Start(t, 1)
	el := newElection(t, zkc.URL("/corral"))
	quit := make(chan struct{})
	first := &contender{name: "quitter", e: NewElector(el.url, []byte("quitter"), options(t)), done: make(chan error, 1), quit: quit}
	el.start(first)
	if l := el.leader(); l != first {
		t.Fatalf("leader = %s; want the quitter", l.name)
	}
	second := el.add("second", options(t))
	conn := client(t, zkc.Servers())
	eventually(t, "second has joined", func() bool { return len(members(t, conn, el.url.Path)) == 2 })

	// The quitter's lead returns by itself: it must delete its member, so
	// the second leads, and rejoin behind it.
	close(quit)
	eventually(t, "second leads", func() bool { return second.leading.Load() })
	eventually(t, "the quitter has rejoined", func() bool { return len(members(t, conn, el.url.Path)) == 2 })
	ms := members(t, conn, el.url.Path)
	data, _, err := conn.Get(el.url.Path + "/" + ms[1])
	if err != nil || string(data) != "quitter" {
		t.Errorf("highest member holds %q, %v; want the quitter's", data, err)
	}
	if first.e.IsLeader() || !second.e.IsLeader() || first.terms.Load() != 1 {
		t.Errorf("IsLeader: quitter %v, second %v; quitter's terms %d; want false, true, 1",
			first.e.IsLeader(), second.e.IsLeader(), first.terms.Load())
	}
}

func TestMemberDeletedStopsLeading(t *testing.T) {
	zkc := testzk.Start(t, 1)
	el := newElection(t, zkc.URL("/corral"))
	// The deletion reaches the old and the new leader at the same time, and
	// nothing orders the old one's stopping before the new one's start.
	el.overlap = true
	a := el.add("a", options(t))
	conn := client(t, zkc.Servers())
	if l := el.leader(); l != a {
		t.Fatalf("leader = %s; want a", l.name)
	}
	b := el.add("b", options(t))
	eventually(t, "b has joined", func() bool { return len(members(t, conn, el.url.Path)) == 2 })

	// An operator deletes the leader's member: a must stop leading and
	// rejoin at the back, and b must take over.
	ms := members(t, conn, el.url.Path)
	if err := conn.Delete(el.url.Path+"/"+ms[0], -1); err != nil {
		t.Fatal(err)
	}
	eventually(t, "b leads", func() bool { return b.leading.Load() })
	if a.leading.Load() {
		t.Error("a still leads after its member was deleted")
	}
	eventually(t, "a has rejoined", func() bool { return len(members(t, conn, el.url.Path)) == 2 })
	if a.terms.Load() != 1 {
		t.Errorf("a led %d times; want 1", a.terms.Load())
	}
}

// connectFailures is a slog.Handler that counts the zk client's failed
// connection attempts (logged at Debug) and passes Info and above on.
type connectFailures struct {
	slog.Handler
	n *atomic.Int32
}

func (h connectFailures) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelDebug
}

func (h connectFailures) Handle(ctx context.Context, r slog.Record) error {
	if strings.HasPrefix(r.Message, "failed to connect to ") {
		h.n.Add(1)
	}
	if r.Level < slog.LevelInfo {
		return nil
	}
	return h.Handler.Handle(ctx, r)
}

func (h connectFailures) WithAttrs(as []slog.Attr) slog.Handler {
	return connectFailures{h.Handler.WithAttrs(as), h.n}
}

func (h connectFailures) WithGroup(name string) slog.Handler {
	return connectFailures{h.Handler.WithGroup(name), h.n}
}

func TestZooKeeperDownNobodyLeads(t *testing.T) {
	zkc := testzk.Start(t, 1)
	el := newElection(t, zkc.URL("/corral"))
	var fails [2]atomic.Int32
	for i := range fails {
		o := options(t)
		o.Logger = slog.New(connectFailures{o.Logger.Handler(), &fails[i]})
		el.add(fmt.Sprintf("m%d", i), o)
	}
	d := NewDetector(el.url, options(t))
	runDetector(t, d)
	old := el.leader()
	terms := old.terms.Load()
	var began [2]int32
	for i, c := range el.cs {
		began[i] = c.terms.Load()
	}
	f0, f1 := fails[0].Load(), fails[1].Load()

	zkc.Kill(0)
	eventually(t, "nobody leads while zookeeper is down", func() bool { return len(el.leaders()) == 0 })
	if old.e.IsLeader() {
		t.Error("IsLeader() = true while zookeeper is down")
	}
	// It stays so: leadership needs a live connection. Once each
	// contender's client has failed to reconnect twice, no term began
	// since the server went down.
	eventually(t, "both contenders to fail to reconnect twice", func() bool {
		return fails[0].Load() >= f0+2 && fails[1].Load() >= f1+2
	})
	for i, c := range el.cs {
		if n := c.terms.Load(); n != began[i] || c.leading.Load() {
			t.Fatalf("%s began %d terms while zookeeper was down (leading now: %v)", c.name, n-began[i], c.leading.Load())
		}
	}

	zkc.Start(0)
	l := el.leader()
	if l == old && old.terms.Load() == terms {
		t.Error("the leader never stopped leading")
	}
	// The detector's watch session died with the server; a new one sees
	// the leader.
	eventually(t, "the detector sees the leader", func() bool {
		got, ok := d.Leader()
		return ok && string(got.Data) == l.name
	})
}

func TestEnsembleLeaderRestart(t *testing.T) {
	zkc := testzk.Start(t, 3)
	el := newElection(t, zkc.URL("/corral"))
	for i := range 3 {
		el.add(fmt.Sprintf("m%d", i), options(t))
	}
	d := NewDetector(el.url, options(t))
	runDetector(t, d)
	old := el.leader()
	term := old.termLog()[0]

	// Every client connection drops while the ensemble elects a new
	// leader; sessions live on.
	start := time.Now()
	zkc.Restart(zkc.LeaderIndex())
	eventually(t, "the ensemble has a leader", func() bool { return zkc.LeaderIndex() >= 0 })
	back := time.Since(start)
	l := el.leader()
	// When the ensemble was back well within the session timeout, the
	// leader reconnected to its session within its lease: it leads on in
	// the same term. (A slower machine may take longer; then only the
	// election's outcome is checked.)
	if back < sessionTimeout-2*time.Second {
		if l != old || term.ctx.Err() != nil || old.terms.Load() != 1 {
			t.Errorf("after the ensemble was back in %v: leader %s in term %d (first term's leaderCtx: %v); want %s still in its first term",
				back, l.name, l.terms.Load(), context.Cause(term.ctx), old.name)
		}
	} else {
		t.Logf("the ensemble took %v to come back; not judging whether the leader kept its term", back)
	}
	conn := client(t, zkc.Servers())
	eventually(t, "the detector agrees", func() bool {
		ms := members(t, conn, el.url.Path)
		got, ok := d.Leader()
		return len(ms) == 3 && agreed(got, ok, el.url.Path, ms[0], l.name)
	})
}

func TestDetectorWaitsThenFollows(t *testing.T) {
	zkc := testzk.Start(t, 1)
	u, err := ParseURL(zkc.URL("/not/yet/there"))
	if err != nil {
		t.Fatal(err)
	}
	d := NewDetector(u, options(t))
	runDetector(t, d)

	ch := d.Changes()
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	_, err = d.Wait(ctx)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Wait with no contender = %v; want context.DeadlineExceeded", err)
	}
	select {
	case <-ch:
		t.Fatal("Changes fired with no contender")
	default:
	}

	el := newElection(t, u.String())
	a := el.add("a", options(t))
	ctx, cancel = context.WithTimeout(t.Context(), 45*time.Second)
	defer cancel()
	l, err := d.Wait(ctx)
	if err != nil || string(l.Data) != "a" {
		t.Fatalf("Wait = %q, %v; want a's data", l.Data, err)
	}
	select {
	case <-ch:
	default:
		t.Error("Changes did not fire when a leader appeared")
	}

	b := el.add("b", options(t))
	conn := client(t, zkc.Servers())
	eventually(t, "b has joined", func() bool { return len(members(t, conn, u.Path)) == 2 })
	ch = d.Changes()
	a.stop(t)
	select {
	case <-ch:
	case <-ctx.Done():
		t.Fatal("Changes did not fire when the leader left")
	}
	eventually(t, "the detector follows b", func() bool {
		l, ok := d.Leader()
		return ok && string(l.Data) == "b"
	})
	if el.leader() != b {
		t.Error("b does not lead")
	}
}

// TestPartitionedLeader cuts the leader off from ZooKeeper through a proxy
// for longer than its session timeout: it must stop leading before its
// session can expire, the other contender must take over once it has, and
// the old leader must come back as a follower on a new session.
func TestPartitionedLeader(t *testing.T) {
	short := options(t)
	short.SessionTimeout = 2 * time.Second
	el, p, a, b, conn := proxiedLeader(t, short)

	p.cut(true)
	eventually(t, "a stops leading", func() bool { return !a.leading.Load() })
	eventually(t, "b leads", func() bool { return b.leading.Load() })
	p.cut(false)
	eventually(t, "a has rejoined on a new session", func() bool {
		ms := members(t, conn, el.url.Path)
		if len(ms) != 2 {
			return false
		}
		data, _, err := conn.Get(el.url.Path + "/" + ms[1])
		return err == nil && string(data) == "a"
	})
	eventually(t, "a sees b lead", func() bool {
		l, ok := a.e.Leader()
		return ok && string(l.Data) == "b"
	})
	if !b.leading.Load() || a.leading.Load() {
		t.Errorf("leading: a %v, b %v; want b only", a.leading.Load(), b.leading.Load())
	}
}

// proxiedLeader starts an election under /corral with two contenders: a,
// which reaches ZooKeeper through a proxy and leads, and b, which reaches
// it directly and has joined. conn is a session of the test's own.
func proxiedLeader(t *testing.T, o Options) (el *election, p *proxy, a, b *contender, conn *zk.Conn) {
	t.Helper()
	zkc := testzk.Start(t, 1)
	p = newProxy(t, zkc.Servers()[0])
	el = newElection(t, zkc.URL("/corral"))
	viaProxy := el.url
	viaProxy.Servers = []string{p.addr()}
	a = &contender{name: "a", e: NewElector(viaProxy, []byte("a"), o), done: make(chan error, 1)}
	el.start(a)
	if l := el.leader(); l != a {
		t.Fatalf("leader = %s; want a", l.name)
	}
	b = el.add("b", o)
	conn = client(t, zkc.Servers())
	eventually(t, "b has joined", func() bool { return len(members(t, conn, el.url.Path)) == 2 })
	return el, p, a, b, conn
}

// proxy forwards TCP connections to a ZooKeeper server and can cut them,
// as a network partition would, refusing new ones until restored.
type proxy struct {
	t      *testing.T
	ln     net.Listener
	target string

	mu    sync.Mutex
	down  bool
	conns map[net.Conn]bool
	wg    sync.WaitGroup
}

func newProxy(t *testing.T, target string) *proxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{t: t, ln: ln, target: target, conns: map[net.Conn]bool{}}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(func() {
		ln.Close()
		p.cut(true)
		p.wg.Wait()
	})
	return p
}

func (p *proxy) addr() string { return p.ln.Addr().String() }

// forwarded returns how many connections the proxy forwards now.
func (p *proxy) forwarded() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.conns) / 2
}

func (p *proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.down {
			p.mu.Unlock()
			c.Close()
			continue
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			p.mu.Unlock()
			c.Close()
			continue
		}
		p.conns[c], p.conns[s] = true, true
		p.wg.Add(2)
		p.mu.Unlock()
		go p.pipe(c, s)
		go p.pipe(s, c)
	}
}

func (p *proxy) pipe(dst, src net.Conn) {
	defer p.wg.Done()
	_, _ = io.Copy(dst, src)
	dst.Close()
	src.Close()
	p.mu.Lock()
	delete(p.conns, dst)
	delete(p.conns, src)
	p.mu.Unlock()
}

// cut closes every forwarded connection and refuses new ones (down), or
// lets them through again.
func (p *proxy) cut(down bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = down
	if down {
		for c := range p.conns {
			c.Close()
		}
		clear(p.conns)
	}
}
