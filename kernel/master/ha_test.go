package master

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"corral/internal/lead"
	"corral/internal/migrate"
	"corral/internal/testpg"
	"corral/kernel/internal/registry"
)

// fakeElection stands in for ZooKeeper: the test decides who leads.
type fakeElection struct {
	mu     sync.Mutex
	infos  map[int][]byte
	leader int // -1: none
	cancel context.CancelFunc
	grants map[int]chan context.Context
}

func newFakeElection() *fakeElection {
	return &fakeElection{infos: map[int][]byte{}, leader: -1, grants: map[int]chan context.Context{}}
}

type contender struct {
	z *fakeElection
	i int
}

func (c contender) Run(ctx context.Context, lead func(context.Context)) error {
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case lctx := <-c.z.grant(c.i):
			lead(lctx)
		}
	}
}

// Leader reads the leader's published MasterInfo as lead.ZK does.
func (c contender) Leader() (lead.Member, bool) {
	c.z.mu.Lock()
	defer c.z.mu.Unlock()
	if c.z.leader < 0 {
		return lead.Member{}, false
	}
	m, err := ParseMember(c.z.infos[c.z.leader])
	return m, err == nil
}

func (z *fakeElection) grant(i int) chan context.Context {
	z.mu.Lock()
	defer z.mu.Unlock()
	if z.grants[i] == nil {
		z.grants[i] = make(chan context.Context, 1)
	}
	return z.grants[i]
}

// elect makes contender i the leader (i < 0: nobody), ending the previous
// leaders' terms first.
func (z *fakeElection) elect(i int) {
	z.mu.Lock()
	if z.cancel != nil {
		z.cancel()
		z.cancel = nil
	}
	z.mu.Unlock()
	z.electUnnoticed(i)
}

// electUnnoticed makes contender i the leader (i < 0: nobody) while the
// previous leader's term goes on: it has not noticed yet, as a paused
// process or one cut off from ZooKeeper whose session has not expired.
func (z *fakeElection) electUnnoticed(i int) {
	z.mu.Lock()
	z.leader = i
	if i < 0 {
		z.mu.Unlock()
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	earlier := z.cancel
	z.cancel = func() {
		cancel()
		if earlier != nil {
			earlier()
		}
	}
	z.mu.Unlock()
	z.grant(i) <- ctx
}

// startContender runs master i of z on db and returns its URL; mutate
// adjust its configuration.
func startContender(t *testing.T, z *fakeElection, i int, db string, mutate ...func(*Config)) string {
	t.Helper()
	ctx := t.Context()
	if err := migrate.Up(ctx, db); err != nil {
		t.Fatal(err)
	}
	store, err := registry.Open(ctx, db)
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
	for _, m := range mutate {
		m(&cfg)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	runCtx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	registered := make(chan struct{})
	go func() {
		defer close(done)
		err := Contend(runCtx, cfg, store, log, ln, func(self lead.Member) (lead.Election, error) {
			z.mu.Lock()
			z.infos[i] = self.Data
			z.mu.Unlock()
			close(registered)
			return contender{z, i}, nil
		})
		if err != nil {
			t.Errorf("Contend: %v", err)
		}
	}()
	<-registered
	t.Cleanup(func() {
		cancel()
		<-done
		store.Close()
	})
	return cfg.Advertise
}

var noFollow = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func send(t *testing.T, method, url string, hdr map[string]string, body string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := noFollow.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func waitLeading(t *testing.T, url string) {
	t.Helper()
	waitForWithin(t, 20*time.Second, url+" to become the recovered leader", func() bool {
		resp, body := send(t, "GET", url+"/health", nil, "")
		var h Health
		_ = json.Unmarshal([]byte(body), &h)
		return resp.StatusCode == 200 && h.Leader && h.Recovered
	})
}

const subscribeCall = `{"type":"SUBSCRIBE","subscribe":{"framework_info":{"user":"u","name":"ha-test","failover_timeout":600}}}`

// subscribeAt opens a SUBSCRIBE stream at url and returns the stream id,
// the framework id and the body (to read or close).
func subscribeAt(t *testing.T, url, body string) (streamID, frameworkID string, stream io.ReadCloser) {
	t.Helper()
	req, _ := http.NewRequest("POST", url+"/api/v1/scheduler", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := noFollow.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		t.Fatalf("SUBSCRIBE at %s: %d %s", url, resp.StatusCode, b)
	}
	rd := bufio.NewReader(resp.Body)
	var size int
	line, _ := rd.ReadString('\n')
	if _, err := fmt.Sscan(strings.TrimSpace(line), &size); err != nil {
		t.Fatalf("RecordIO length %q: %v", line, err)
	}
	buf := make([]byte, size)
	if _, err := io.ReadFull(rd, buf); err != nil {
		t.Fatal(err)
	}
	var ev struct {
		Subscribed struct {
			FrameworkID struct{ Value string } `json:"framework_id"`
		} `json:"subscribed"`
	}
	if err := json.Unmarshal(buf, &ev); err != nil {
		t.Fatal(err)
	}
	return resp.Header.Get("Mesos-Stream-Id"), ev.Subscribed.FrameworkID.Value, resp.Body
}

func TestStandbyWithoutLeaderAnswers503(t *testing.T) {
	z := newFakeElection()
	a := startContender(t, z, 0, testpg.URL(t))
	resp, body := send(t, "POST", a+"/api/v1/scheduler", nil, subscribeCall)
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, "No leading master") {
		t.Errorf("SUBSCRIBE with no leader = %d %q; want 503 naming the missing leader", resp.StatusCode, body)
	}
	resp, body = send(t, "GET", a+"/state", nil, "")
	var st StandbyState
	if err := json.Unmarshal([]byte(body), &st); err != nil || resp.StatusCode != 200 {
		t.Fatalf("standby /state = %d %q", resp.StatusCode, body)
	}
	if st.Elected || st.Leader != "" {
		t.Errorf("standby /state = %+v; want not elected, no leader", st)
	}
}

func TestStandbyRedirectsSubscribeAndForwardsCalls(t *testing.T) {
	z := newFakeElection()
	db := testpg.URL(t)
	a := startContender(t, z, 0, db)
	b := startContender(t, z, 1, db)
	z.elect(0)
	waitLeading(t, a)

	resp, _ := send(t, "POST", b+"/api/v1/scheduler", nil, subscribeCall)
	if resp.StatusCode != http.StatusTemporaryRedirect || resp.Header.Get("Location") != a+"/api/v1/scheduler" {
		t.Fatalf("SUBSCRIBE at the standby = %d Location %q; want 307 to %s/api/v1/scheduler", resp.StatusCode, resp.Header.Get("Location"), a)
	}
	resp, _ = send(t, "POST", b+"/internal/v1/agent", nil, "{}")
	if resp.StatusCode != http.StatusTemporaryRedirect || !strings.HasPrefix(resp.Header.Get("Location"), a) {
		t.Errorf("agent call at the standby = %d %q; want 307 to the leader", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp, _ = send(t, "GET", b+"/redirect", nil, "")
	if resp.StatusCode != http.StatusTemporaryRedirect || resp.Header.Get("Location") != a {
		t.Errorf("/redirect at the standby = %d %q; want 307 to %s", resp.StatusCode, resp.Header.Get("Location"), a)
	}

	sid, fid, stream := subscribeAt(t, a, subscribeCall)
	defer stream.Close()
	// A call sent to the standby reaches the leader.
	call := `{"type":"RECONCILE","framework_id":{"value":"` + fid + `"},"reconcile":{"tasks":[]}}`
	resp, body := send(t, "POST", b+"/api/v1/scheduler", map[string]string{"Mesos-Stream-Id": sid}, call)
	if resp.StatusCode != http.StatusAccepted {
		t.Errorf("RECONCILE through the standby = %d %q; want 202 from the leader", resp.StatusCode, body)
	}
	resp, body = send(t, "POST", b+"/api/v1/scheduler", map[string]string{"Mesos-Stream-Id": "wrong"}, call)
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("RECONCILE with a wrong stream id through the standby = %d %q; want the leader's 400", resp.StatusCode, body)
	}

	resp, body = send(t, "GET", b+"/state", nil, "")
	var st StandbyState
	_ = json.Unmarshal([]byte(body), &st)
	if st.LeaderURL != a || st.LeaderInfo == nil || st.Leader == "" {
		t.Errorf("standby /state = %d %+v; want the leader %s", resp.StatusCode, st, a)
	}
	resp, body = send(t, "GET", b+"/weights", nil, "")
	if resp.StatusCode != 200 || !strings.HasPrefix(body, "[") {
		t.Errorf("GET /weights through the standby = %d %q", resp.StatusCode, body)
	}
}

func TestLeadershipMovesBetweenMasters(t *testing.T) {
	z := newFakeElection()
	db := testpg.URL(t)
	a := startContender(t, z, 0, db)
	b := startContender(t, z, 1, db)
	z.elect(0)
	waitLeading(t, a)
	_, fid, stream := subscribeAt(t, a, subscribeCall)

	z.elect(1)
	// The old leader's term ends: its stream closes at once.
	done := make(chan error, 1)
	go func() { _, err := io.Copy(io.Discard, stream); done <- err }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the deposed leader kept the framework's stream open")
	}
	waitLeading(t, b)
	resp, _ := send(t, "POST", a+"/api/v1/scheduler", nil, subscribeCall)
	if resp.StatusCode != http.StatusTemporaryRedirect || resp.Header.Get("Location") != b+"/api/v1/scheduler" {
		t.Fatalf("SUBSCRIBE at the deposed master = %d %q; want 307 to the new leader", resp.StatusCode, resp.Header.Get("Location"))
	}
	// The new leader knows the framework from the registry: it fails over
	// with its id.
	again := `{"type":"SUBSCRIBE","framework_id":{"value":"` + fid + `"},"subscribe":{"framework_info":{"id":{"value":"` + fid + `"},"user":"u","name":"ha-test","failover_timeout":600}}}`
	_, fid2, s2 := subscribeAt(t, b, again)
	s2.Close()
	if fid2 != fid {
		t.Errorf("re-subscribed as %q; want %q", fid2, fid)
	}

	// And back: a master elected again starts a new term.
	z.elect(0)
	waitLeading(t, a)
}

// TestStandbyNamedAsLeaderUnderAnOldRunDoesNotProxyToItself: a master that
// crashed and came back finds its old member (its own URL, an earlier run
// id) still named as leader until that member expires; it must answer 503
// instead of proxying the console to itself.
func TestStandbyNamedAsLeaderUnderAnOldRunDoesNotProxyToItself(t *testing.T) {
	z := newFakeElection()
	a := startContender(t, z, 0, testpg.URL(t))
	z.mu.Lock()
	var mi map[string]any
	if err := json.Unmarshal(z.infos[0], &mi); err != nil {
		z.mu.Unlock()
		t.Fatal(err)
	}
	mi["id"] = "an-earlier-run"
	z.infos[7], _ = json.Marshal(mi)
	z.leader = 7
	z.mu.Unlock()
	for _, p := range []string{"/console/state", "/framework/services/v2/apps", "/weights"} {
		resp, body := send(t, "GET", a+p, nil, "")
		if resp.StatusCode != http.StatusServiceUnavailable {
			t.Errorf("GET %s on a standby named as its own leader = %d %q; want 503", p, resp.StatusCode, body)
		}
	}
	// A request another standby already passed on is not passed on again.
	z.mu.Lock()
	z.leader = -1
	z.mu.Unlock()
	resp, body := send(t, "GET", a+"/console/state", map[string]string{"X-Corral-Forwarded-By": "http://other:5050"}, "")
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, "forwarded by http://other:5050") {
		t.Errorf("forwarded request at a standby = %d %q; want 503 saying who forwarded it", resp.StatusCode, body)
	}
}

// TestDeposedLeaderIsFencedAndStandsBy: a leader that has not noticed that
// another master took over has its first registry write refused, because
// the new leader began a later term: the call that wrote answers 503,
// nothing of it reaches the registry, and the term ends at once (its
// streams close) so that it answers as a standby of the new leader.
func TestDeposedLeaderIsFencedAndStandsBy(t *testing.T) {
	z := newFakeElection()
	db := testpg.URL(t)
	a := startContender(t, z, 0, db)
	b := startContender(t, z, 1, db)
	z.elect(0)
	waitLeading(t, a)
	_, _, stream := subscribeAt(t, a, subscribeCall)
	defer stream.Close()
	closed := make(chan error, 1)
	go func() { _, err := io.Copy(io.Discard, stream); closed <- err }()

	z.electUnnoticed(1)
	waitLeading(t, b)
	if resp, body := send(t, "GET", a+"/health", nil, ""); !strings.Contains(body, `"leader":true`) {
		t.Fatalf("/health of the deposed master before it wrote = %d %q; want it still leading", resp.StatusCode, body)
	}
	select {
	case <-closed:
		t.Fatal("the deposed master's term ended before it wrote: only a refused write can tell it")
	default:
	}

	resp, body := send(t, "PUT", a+"/weights", nil, `[{"role":"deposed","weight":3}]`)
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, "no longer leads") {
		t.Errorf("PUT /weights at the deposed master = %d %q; want 503 saying it no longer leads", resp.StatusCode, body)
	}
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("the deposed master kept the framework's stream open after its write was refused")
	}
	waitForWithin(t, 10*time.Second, "the deposed master to stand by for "+b, func() bool {
		_, body := send(t, "GET", a+"/health", nil, "")
		var h Health
		return json.Unmarshal([]byte(body), &h) == nil && !h.Leader && h.LeaderURL == b
	})
	store, err := registry.Open(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if ws, err := store.Weights(t.Context()); err != nil || ws["deposed"] != 0 {
		t.Errorf("registry weights after the refused write = %v, %v; want no weight for role deposed", ws, err)
	}

	// The same call through the deposed master, now a standby, reaches
	// the leader.
	if resp, body := send(t, "PUT", a+"/weights", nil, `[{"role":"deposed","weight":3}]`); resp.StatusCode != http.StatusOK {
		t.Errorf("PUT /weights through the deposed master standing by = %d %q; want 200 from the leader", resp.StatusCode, body)
	}
	if ws, err := store.Weights(t.Context()); err != nil || ws["deposed"] != 3 {
		t.Errorf("registry weights after the forwarded write = %v, %v; want role deposed at 3", ws, err)
	}
}
