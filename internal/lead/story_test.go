package lead

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/jackc/pgx/v5/pgxpool"

	"corral/internal/edge"
	"corral/internal/testzk"
)

// The failover story, end to end on real ZooKeeper and Postgres: two
// instances of a component, each an election, a Swap whose standby is a
// Forwarder, and terms whose writes are fenced.
//
//  1. a leads; b forwards to it, once, with the caller's credentials.
//  2. a is cut off from ZooKeeper: its term ends before its session can
//     expire, b takes over once it has and begins a term, and a write a
//     had in flight is refused.
//  3. a comes back as a standby and forwards to b.
//  4. a successor b does not know about begins a term: b's next write is
//     refused, its term ends, it gives leadership up, and a leads again.
//
// No two terms serve at once throughout.
func TestFailoverStory(t *testing.T) {
	z, pool, partition, a, b := proxiedPair(t, "/corral/story", 2*time.Second)
	overlap := watchOverlap(t, a, b)

	// 1. Through the standby, to the leader: once, with the credentials.
	resp := post(t, b, "/write/one", "Authorization: Bearer t0ken")
	if resp.code != http.StatusCreated || resp.header.Get("X-Epoch") != "1" {
		t.Fatalf("write through the standby = %d %s; want 201 in epoch 1", resp.code, resp.body)
	}
	if got := resp.header.Get("X-Seen-Forwarded-By"); got != b.self.URL {
		t.Errorf("the leader saw %s %q; want b's URL", ForwardedBy, got)
	}
	if got := resp.header.Get("X-Seen-Authorization"); got != "Bearer t0ken" {
		t.Errorf("the leader saw Authorization %q; want the caller's", got)
	}
	if r := post(t, b, "/write/bounced", ForwardedBy+": "+a.self.URL); r.code != http.StatusServiceUnavailable || !strings.Contains(r.body, `"error"`) {
		t.Errorf("an already forwarded write at the standby = %d %s; want 503 in the API's shape", r.code, r.body)
	}
	termA := <-a.terms

	// 2. a is cut off: it stops before its session can expire; b leads
	// once the session is gone.
	partition.cut(true)
	eventually(t, "a's term ends", func() bool { return termA.ctx.Err() != nil })
	if a.swap.Serving() {
		t.Error("a still serves its term after its context ended")
	}
	eventually(t, "b serves a term", b.swap.Serving)
	termB := <-b.terms
	if termB.fence.Epoch() != 2 {
		t.Errorf("b's epoch = %d; want 2", termB.fence.Epoch())
	}
	// A write a began before it noticed (a pause, a slow network) reaches
	// the database only now: refused.
	if err := write(t.Context(), pool, termA.fence, "late"); !errors.Is(err, ErrFenced) {
		t.Errorf("a's late write = %v; want ErrFenced", err)
	}
	if written(t, pool, "late") != 0 {
		t.Error("a's late write landed after b's term began")
	}

	// 3. a comes back, as a standby of b.
	partition.cut(false)
	count := members(t, z, "/corral/story")
	eventually(t, "a has joined again", func() bool { return count() == 2 })
	eventually(t, "a knows b leads", func() bool { l, ok := a.zk.Leader(); return ok && l.Same(b.self) })
	if r := post(t, a, "/write/two"); r.code != http.StatusCreated || r.header.Get("X-Epoch") != "2" || r.header.Get("X-Term-Of") != "b" {
		t.Errorf("write through a = %d %v %s; want 201 by b in epoch 2", r.code, r.header, r.body)
	}

	// 4. A successor begins a term behind b's back: b's next write is
	// refused, and its term ends.
	successor := NewFence("services")
	if _, err := successor.Begin(t.Context(), pool); err != nil {
		t.Fatal(err)
	}
	if r := post(t, a, "/write/three"); r.code != http.StatusServiceUnavailable || !strings.Contains(r.body, "no longer leads") {
		t.Errorf("write of the deposed b = %d %s; want 503", r.code, r.body)
	}
	if written(t, pool, "three") != 0 {
		t.Error("the deposed b's write landed")
	}
	eventually(t, "b's term ends", func() bool { return termB.ctx.Err() != nil })
	if cause := context.Cause(termB.ctx); !errors.Is(cause, ErrFenced) {
		t.Errorf("b's term ended with %v; want ErrFenced", cause)
	}
	// b gave leadership up by returning while elected: a leads again.
	eventually(t, "a serves a term again", a.swap.Serving)
	eventually(t, "b knows a leads", func() bool { l, ok := b.zk.Leader(); return ok && l.Same(a.self) })
	if r := post(t, b, "/write/four"); r.code != http.StatusCreated || r.header.Get("X-Term-Of") != "a" || r.header.Get("X-Epoch") != "4" {
		t.Errorf("write through b = %d %v %s; want 201 by a in epoch 4", r.code, r.header, r.body)
	}
	if n := overlap(); n > 0 {
		t.Errorf("both instances served a term at once, %d times", n)
	}
}

// proxiedPair starts two instances of a component under path on real
// ZooKeeper and Postgres: a, which reaches ZooKeeper through a proxy (p)
// and serves a term, and b, which reaches it directly and knows that a
// leads.
func proxiedPair(t *testing.T, path string, session time.Duration) (z *testzk.Cluster, pool *pgxpool.Pool, p *proxy, a, b *instance) {
	t.Helper()
	z = testzk.Start(t, 1)
	pool, _ = writesDB(t)
	p = newProxy(t, z.Servers()[0])
	a = startInstance(t, "a", "zk://"+p.addr()+path, session, pool)
	eventually(t, "a serves a term", a.swap.Serving)
	b = startInstance(t, "b", z.URL(path), session, pool)
	eventually(t, "b knows a leads", func() bool { l, ok := b.zk.Leader(); return ok && l.Same(a.self) })
	return z, pool, p, a, b
}

// members counts the members under path, on a session of its own.
func members(t *testing.T, z *testzk.Cluster, path string) func() int {
	t.Helper()
	conn, _, err := zk.Connect(z.Servers(), 5*time.Second, zk.WithLogger(quiet{}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(conn.Close)
	return func() int {
		names, _, err := conn.Children(path)
		if err != nil {
			return 0
		}
		return len(names)
	}
}

// quiet discards the ZooKeeper client's messages.
type quiet struct{}

func (quiet) Printf(string, ...any) {}

// instance is one member of the story's component.
type instance struct {
	name  string
	self  Member
	zk    *ZK
	swap  *Swap
	terms chan term
}

// term is what a test needs of one term.
type term struct {
	fence *Fence
	ctx   context.Context
}

func startInstance(t *testing.T, name, zkURL string, session time.Duration, pool *pgxpool.Pool) *instance {
	t.Helper()
	in := &instance{name: name, terms: make(chan term, 8)}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { in.swap.ServeHTTP(w, r) }))
	t.Cleanup(srv.Close)
	in.self = Member{ID: name + "-run", URL: srv.URL}
	var err error
	in.zk, err = NewZK(zkURL, in.self, ZKOptions{SessionTimeout: session, Prefix: "story_", Logger: logger(t).With("instance", name)})
	if err != nil {
		t.Fatal(err)
	}
	shape := &shapeErr{}
	in.swap = NewSwap(&Forwarder{Self: in.self, Leader: in.zk.Leader, Name: "story instance", Error: shape.write})
	contend(t, electionFunc{in.zk, func(lctx context.Context) {
		f := NewFence("services")
		if _, err := f.Begin(lctx, pool); err != nil {
			t.Logf("%s: cannot begin a term: %v", name, err)
			return
		}
		tctx, stop := f.Context(lctx)
		defer stop()
		end := in.swap.Serve(tctx, termHandler(tctx, name, f, pool))
		in.terms <- term{fence: f, ctx: tctx}
		<-tctx.Done()
		end()
	}})
	return in
}

// electionFunc runs its own lead under an Election, whatever the lead
// contend passes.
type electionFunc struct {
	Election
	lead func(context.Context)
}

func (e electionFunc) Run(ctx context.Context, _ func(context.Context)) error {
	return e.Election.Run(ctx, e.lead)
}

// termHandler is a term's API: POST /write/{v} records v, fenced.
func termHandler(ctx context.Context, name string, f *Fence, pool *pgxpool.Pool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Term-Of", name)
		w.Header().Set("X-Epoch", strconv.FormatInt(f.Epoch(), 10))
		w.Header().Set("X-Seen-Forwarded-By", r.Header.Get(ForwardedBy))
		w.Header().Set("X-Seen-Authorization", r.Header.Get("Authorization"))
		v, ok := strings.CutPrefix(r.URL.Path, "/write/")
		if r.Method != http.MethodPost || !ok {
			http.NotFound(w, r)
			return
		}
		if err := write(ctx, pool, f, v); err != nil {
			if errors.Is(err, ErrFenced) {
				edge.WriteJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "this instance no longer leads; retry"})
				return
			}
			edge.WriteJSON(w, http.StatusServiceUnavailable, map[string]string{"error": err.Error()})
			return
		}
		w.WriteHeader(http.StatusCreated)
	})
}

type answer struct {
	code   int
	header http.Header
	body   string
}

func post(t *testing.T, in *instance, path string, headers ...string) answer {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), "POST", in.self.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range headers {
		k, v, _ := strings.Cut(kv, ": ")
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{code: resp.StatusCode, header: resp.Header, body: string(b)}
}

// watchOverlap samples, until the test ends, whether both instances serve
// a term at once; the returned function says how often they did.
func watchOverlap(t *testing.T, a, b *instance) func() int {
	var mu sync.Mutex
	n := 0
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		for ctx.Err() == nil {
			if a.swap.Serving() && b.swap.Serving() {
				mu.Lock()
				n++
				mu.Unlock()
			}
			time.Sleep(2 * time.Millisecond)
		}
	})
	t.Cleanup(func() { cancel(); wg.Wait() })
	return func() int {
		mu.Lock()
		defer mu.Unlock()
		return n
	}
}

// proxy forwards TCP connections to a ZooKeeper server and can cut them,
// as a network partition would, refusing new ones until restored.
type proxy struct {
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
	p := &proxy{ln: ln, target: target, conns: map[net.Conn]bool{}}
	p.wg.Go(p.accept)
	t.Cleanup(func() {
		ln.Close()
		p.cut(true)
		p.wg.Wait()
	})
	return p
}

func (p *proxy) addr() string { return p.ln.Addr().String() }

func (p *proxy) accept() {
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
		p.wg.Go(func() { pipe(c, s) })
		p.wg.Go(func() { pipe(s, c) })
		p.mu.Unlock()
	}
}

func pipe(dst, src net.Conn) {
	_, _ = io.Copy(dst, src)
	dst.Close()
	src.Close()
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
