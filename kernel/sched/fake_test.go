package sched

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"corral/kernel/mesos"
)

// fakeNet is an in-memory network: a RoundTripper that serves each
// request with the handler listening on its host and streams the response
// through a pipe. Without sockets, a test can run the Client and its fake
// masters in a synctest bubble: every wait is then on a channel of the
// bubble, and the Client's timers (backoff, heartbeat silence, retries)
// run on the bubble's fake clock.
type fakeNet struct {
	mu    sync.Mutex
	hosts map[string]http.Handler
	seq   int
}

// network carries the fake masters of the test binary; each listens on a
// host of its own.
var network = &fakeNet{hosts: map[string]http.Handler{}}

// listen serves h on a new host until the test ends and returns its base
// URL.
func (n *fakeNet) listen(t *testing.T, h http.Handler) string {
	n.mu.Lock()
	n.seq++
	host := fmt.Sprintf("master-%d.test:5050", n.seq)
	n.hosts[host] = h
	n.mu.Unlock()
	t.Cleanup(func() {
		n.mu.Lock()
		delete(n.hosts, host)
		n.mu.Unlock()
	})
	return "http://" + host
}

// RoundTrip runs the handler of req's host on a goroutine of its own and
// returns once it has written the header. The handler's request context
// ends when the client's does, when the client closes the body, or when
// the handler returns; a host nobody listens on refuses the connection.
func (n *fakeNet) RoundTrip(req *http.Request) (*http.Response, error) {
	n.mu.Lock()
	h := n.hosts[req.URL.Host]
	n.mu.Unlock()
	var body []byte
	if req.Body != nil {
		b, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
		body = b
	}
	if h == nil {
		return nil, fmt.Errorf("dial tcp %s: connect: connection refused", req.URL.Host)
	}
	ctx, cancel := context.WithCancel(req.Context())
	sreq := req.Clone(ctx)
	sreq.Body = io.NopCloser(bytes.NewReader(body))
	sreq.RequestURI = req.URL.RequestURI()
	pr, pw := io.Pipe()
	w := &pipeResponse{header: http.Header{}, pw: pw, ready: make(chan struct{})}
	go func() {
		defer cancel()
		h.ServeHTTP(w, sreq)
		w.WriteHeader(http.StatusOK)
		pw.Close()
	}()
	select {
	case <-w.ready:
	case <-req.Context().Done():
		cancel()
		pr.Close()
		return nil, req.Context().Err()
	}
	stop := context.AfterFunc(req.Context(), func() {
		pr.CloseWithError(req.Context().Err())
		cancel()
	})
	return &http.Response{
		Status: fmt.Sprintf("%d %s", w.code, http.StatusText(w.code)), StatusCode: w.code,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: w.sent, Body: &pipeBody{pr: pr, stop: stop, cancel: cancel}, ContentLength: -1, Request: req,
	}, nil
}

// pipeResponse is the handler's side of a fakeNet response.
type pipeResponse struct {
	header http.Header
	sent   http.Header // the header as written
	code   int
	pw     *io.PipeWriter
	once   sync.Once
	ready  chan struct{} // closed once the header is written
}

func (w *pipeResponse) Header() http.Header { return w.header }

func (w *pipeResponse) WriteHeader(code int) {
	w.once.Do(func() {
		w.code, w.sent = code, w.header.Clone()
		close(w.ready)
	})
}

// Write blocks until the client reads what it wrote, so there is nothing
// to flush.
func (w *pipeResponse) Write(b []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return w.pw.Write(b)
}

func (w *pipeResponse) Flush() {}

// pipeBody is the client's side of a fakeNet response.
type pipeBody struct {
	pr     *io.PipeReader
	stop   func() bool
	cancel context.CancelFunc
}

func (b *pipeBody) Read(p []byte) (int, error) { return b.pr.Read(p) }

func (b *pipeBody) Close() error {
	b.stop()
	b.cancel()
	return b.pr.Close()
}

// advance lets the bubble's fake clock run on by d and waits until every
// goroutine of the bubble is blocked again: whatever the Client and the
// fake masters were due to do within d has happened. It must be called in
// a synctest bubble, where the sleep takes no real time.
func advance(d time.Duration) {
	time.Sleep(d)
	synctest.Wait()
}

// fakeMaster is a minimal scheduler endpoint: it checks the headers the
// real master checks, streams RecordIO events and records every request.
// It listens on network.
type fakeMaster struct {
	t         *testing.T
	url       string
	heartbeat float64     // seconds, sent in SUBSCRIBED and used for HEARTBEATs
	silent    atomic.Bool // stop sending HEARTBEATs
	closed    chan struct{}
	streams   chan *fakeStream // each stream after SUBSCRIBED was written
	calls     chan recorded    // each non-SUBSCRIBE call

	mu         sync.Mutex
	assignID   string  // framework id for a first SUBSCRIBE
	redirect   string  // if set, SUBSCRIBE answers 307 with this Location
	subReplies []reply // consumed, one per SUBSCRIBE, before accepting
	errorFirst string  // if set, the next stream sends only this ERROR
	// refuseWith, if set, answers every SUBSCRIBE as corral's master
	// refuses one: 200, no Mesos-Stream-Id, a lone ERROR with this
	// message.
	refuseWith string
	callReply  map[mesos.CallType]reply
	onCall     func(fs *fakeStream, c *mesos.Call) // runs before the reply
	// noLeader makes SUBSCRIBE answer 503 "No leader elected", as a
	// master does while an election is under way.
	noLeader bool
	// onSubscribe, if set, runs (without the lock) before a SUBSCRIBE is
	// accepted: blocking in it holds the SUBSCRIBE in flight.
	onSubscribe func(c *mesos.Call)
	cur         *fakeStream
	nStreams    int
	// subscribes counts the SUBSCRIBEs that arrived, refused or not.
	subscribes atomic.Int32
}

type reply struct {
	code int
	body string
}

type recorded struct {
	call    mesos.Call
	body    []byte
	header  http.Header
	refused int // the status of a callReply the call was answered with, or 0
}

type fakeStream struct {
	id   string
	sub  mesos.Call
	send chan *mesos.Event
	drop chan struct{} // close to end the response (the client sees EOF)
}

func newFakeMaster(t *testing.T) *fakeMaster {
	t.Helper()
	m := &fakeMaster{
		t:         t,
		heartbeat: 15,
		closed:    make(chan struct{}),
		streams:   make(chan *fakeStream, 16),
		calls:     make(chan recorded, 64),
		assignID:  "fw-1",
		callReply: map[mesos.CallType]reply{},
	}
	m.url = network.listen(t, http.HandlerFunc(m.serveHTTP))
	t.Cleanup(func() { close(m.closed) })
	return m
}

func (m *fakeMaster) URL() string { return m.url }

func (m *fakeMaster) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != schedulerPath {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodPost {
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	switch ct := r.Header.Get("Content-Type"); ct {
	case "application/json":
	case "":
		http.Error(w, "Expecting 'Content-Type' to be present", http.StatusBadRequest)
		return
	default:
		w.WriteHeader(http.StatusUnsupportedMediaType)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	var call mesos.Call
	if err := json.Unmarshal(body, &call); err != nil {
		http.Error(w, "Failed to parse body into Call: "+err.Error(), http.StatusBadRequest)
		return
	}
	if call.Type == mesos.CallSubscribe {
		m.subscribe(w, r, call)
		return
	}

	m.mu.Lock()
	fs := m.cur
	rep, ok := m.callReply[call.Type]
	hook := m.onCall
	m.mu.Unlock()
	m.calls <- recorded{call: call, body: body, header: r.Header.Clone(), refused: rep.code}
	sid := r.Header.Get("Mesos-Stream-Id")
	switch {
	case sid == "":
		http.Error(w, "All non-subscribe calls should include the 'Mesos-Stream-Id' header", http.StatusBadRequest)
		return
	case fs == nil:
		http.Error(w, "Framework is not subscribed", http.StatusForbidden)
		return
	case sid != fs.id:
		http.Error(w, fmt.Sprintf("The stream ID '%s' included in this request didn't match the stream ID currently associated with framework ID %s", sid, m.assignID), http.StatusBadRequest)
		return
	}
	if hook != nil {
		hook(fs, &call)
	}
	if ok {
		http.Error(w, rep.body, rep.code)
		return
	}
	if call.Type == mesos.CallUpdateFramework {
		w.WriteHeader(http.StatusOK)
		return
	}
	w.WriteHeader(http.StatusAccepted)
}

func (m *fakeMaster) subscribe(w http.ResponseWriter, r *http.Request, call mesos.Call) {
	if r.Header.Get("Mesos-Stream-Id") != "" {
		http.Error(w, "Subscribe calls should not include the 'Mesos-Stream-Id' header", http.StatusBadRequest)
		return
	}
	m.subscribes.Add(1)
	m.mu.Lock()
	if msg := m.refuseWith; msg != "" {
		m.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		m.write(w, &mesos.Event{Type: mesos.EventError, Error: &mesos.Error{Message: msg}})
		return
	}
	if m.redirect != "" {
		loc := m.redirect
		m.mu.Unlock()
		w.Header().Set("Location", loc)
		w.WriteHeader(http.StatusTemporaryRedirect)
		return
	}
	if m.noLeader {
		m.mu.Unlock()
		http.Error(w, "No leader elected", http.StatusServiceUnavailable)
		return
	}
	if hook := m.onSubscribe; hook != nil {
		m.mu.Unlock()
		hook(&call)
		m.mu.Lock()
	}
	if len(m.subReplies) > 0 {
		rep := m.subReplies[0]
		m.subReplies = m.subReplies[1:]
		m.mu.Unlock()
		http.Error(w, rep.body, rep.code)
		return
	}
	id := m.assignID
	if call.FrameworkID != nil {
		id = call.FrameworkID.Value
	}
	m.nStreams++
	fs := &fakeStream{
		id:   fmt.Sprintf("stream-%d", m.nStreams),
		sub:  call,
		send: make(chan *mesos.Event, 16),
		drop: make(chan struct{}),
	}
	errMsg := m.errorFirst
	m.errorFirst = ""
	if errMsg == "" {
		m.cur = fs
	}
	m.mu.Unlock()

	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Mesos-Stream-Id", fs.id)
	w.WriteHeader(http.StatusOK)
	if errMsg != "" {
		m.write(w, &mesos.Event{Type: mesos.EventError, Error: &mesos.Error{Message: errMsg}})
		m.streams <- fs
		return
	}
	m.write(w, &mesos.Event{Type: mesos.EventSubscribed, Subscribed: &mesos.Subscribed{
		FrameworkID:              mesos.ID{Value: id},
		HeartbeatIntervalSeconds: mesos.Float(m.heartbeat),
	}})
	m.streams <- fs
	defer func() {
		m.mu.Lock()
		if m.cur == fs {
			m.cur = nil
		}
		m.mu.Unlock()
	}()

	tick := time.NewTicker(time.Duration(m.heartbeat * float64(time.Second)))
	defer tick.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-m.closed:
			return
		case <-fs.drop:
			return
		case ev := <-fs.send:
			m.write(w, ev)
		case <-tick.C:
			if !m.silent.Load() {
				m.write(w, &mesos.Event{Type: mesos.EventHeartbeat})
			}
		}
	}
}

// setNoLeader sets noLeader.
func (m *fakeMaster) setNoLeader(v bool) {
	m.mu.Lock()
	m.noLeader = v
	m.mu.Unlock()
}

// noCall fails if a non-SUBSCRIBE call arrives within d of the bubble's
// fake clock (see advance).
func (m *fakeMaster) noCall(t *testing.T, d time.Duration) {
	t.Helper()
	advance(d)
	select {
	case c := <-m.calls:
		t.Fatalf("unexpected %s call: %s", c.call.Type, c.body)
	default:
	}
}

func (m *fakeMaster) write(w http.ResponseWriter, ev *mesos.Event) {
	b, err := json.Marshal(ev)
	if err != nil {
		m.t.Errorf("encoding event: %v", err)
		return
	}
	if err := mesos.WriteRecord(w, b); err != nil {
		return // client went away
	}
	w.(http.Flusher).Flush()
}

// nextStream waits for the next accepted SUBSCRIBE.
func (m *fakeMaster) nextStream(t *testing.T) *fakeStream {
	t.Helper()
	select {
	case fs := <-m.streams:
		return fs
	case <-time.After(5 * time.Second):
		t.Fatal("no SUBSCRIBE reached the fake master")
		return nil
	}
}

// noStream fails if a SUBSCRIBE is accepted within d of the bubble's fake
// clock (see advance).
func (m *fakeMaster) noStream(t *testing.T, d time.Duration) {
	t.Helper()
	advance(d)
	select {
	case fs := <-m.streams:
		t.Fatalf("unexpected SUBSCRIBE (stream %s)", fs.id)
	default:
	}
}

// nextCall waits for the next non-SUBSCRIBE call.
func (m *fakeMaster) nextCall(t *testing.T) recorded {
	t.Helper()
	select {
	case c := <-m.calls:
		return c
	case <-time.After(5 * time.Second):
		t.Fatal("no call reached the fake master")
		return recorded{}
	}
}

// eventLog is a Handler that forwards events to a channel.
type eventLog chan *mesos.Event

func (l eventLog) HandleEvent(_ context.Context, _ *Client, ev *mesos.Event) { l <- ev }

// next waits for an event of type want, skipping heartbeats.
func (l eventLog) next(t *testing.T, want mesos.EventType) *mesos.Event {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case ev := <-l:
			if ev.Type == mesos.EventHeartbeat && want != mesos.EventHeartbeat {
				continue
			}
			if ev.Type != want {
				t.Fatalf("event = %s; want %s", ev.Type, want)
			}
			return ev
		case <-deadline:
			t.Fatalf("no %s event", want)
			return nil
		}
	}
}

func testConfig(masters ...string) Config {
	return Config{
		Masters:    masters,
		Framework:  mesos.FrameworkInfo{User: "foo", Name: "test"},
		BackoffMax: 20 * time.Millisecond,
		HTTPClient: &http.Client{Transport: network},
	}
}

// run is a Client's Run in progress.
type run struct {
	done chan struct{}
	err  error // valid once done is closed
}

// wait returns Run's result, failing the test if it takes over 5 s.
func (r *run) wait(t *testing.T) error {
	t.Helper()
	select {
	case <-r.done:
		return r.err
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return")
		return nil
	}
}

// start runs a Client until the test ends.
func start(t *testing.T, cfg Config, h Handler) (*Client, *run) {
	t.Helper()
	c, err := New(cfg, h, nil)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &run{done: make(chan struct{})}
	go func() {
		r.err = c.Run(ctx)
		close(r.done)
	}()
	t.Cleanup(func() {
		cancel()
		r.wait(t)
	})
	return c, r
}

// waitFor polls cond until it holds or 5 s pass (of the fake clock, in a
// synctest bubble). It is the package's one polling loop.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

func hostOf(u string) string { return strings.TrimPrefix(u, "http://") }
