package events

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// frame is one parsed SSE frame; Comment is set for a frame made only of
// comment lines (a keep-alive).
type frame struct {
	ID, Event, Data string
	Comment         bool
}

// sseClient reads frames from one event stream in a goroutine it owns;
// close stops and joins it.
type sseClient struct {
	resp   *http.Response
	cancel context.CancelFunc
	frames chan frame // closed at the end of the stream
	done   chan struct{}
}

// dial opens an event stream; the caller checks the status.
func dial(t *testing.T, url string, header http.Header) *sseClient {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if header == nil {
		header = http.Header{"Accept": {"text/event-stream"}}
	}
	req.Header = header
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatalf("GET %s: %v", url, err)
	}
	c := &sseClient{resp: resp, cancel: cancel, frames: make(chan frame, 1024), done: make(chan struct{})}
	go c.read()
	t.Cleanup(c.close)
	return c
}

func (c *sseClient) read() {
	defer close(c.done)
	defer close(c.frames)
	r := bufio.NewReader(c.resp.Body)
	var f frame
	empty := true
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimSuffix(line, "\n")
		if line == "" {
			if !empty {
				c.frames <- f
			}
			f, empty = frame{}, true
			continue
		}
		if strings.HasPrefix(line, ":") {
			f.Comment, empty = true, false
			continue
		}
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch field {
		case "id":
			f.ID = value
		case "event":
			f.Event = value
		case "data":
			if f.Data != "" {
				f.Data += "\n"
			}
			f.Data += value
		}
		f.Comment, empty = false, false
	}
}

// close disconnects and waits for the reader to finish.
func (c *sseClient) close() {
	c.cancel()
	c.resp.Body.Close()
	<-c.done
}

// next returns the next frame, failing if none comes within 5 s or the
// stream ends.
func (c *sseClient) next(t *testing.T) frame {
	t.Helper()
	select {
	case f, ok := <-c.frames:
		if !ok {
			t.Fatal("stream ended; want another frame")
		}
		return f
	case <-time.After(5 * time.Second):
		t.Fatal("no frame within 5s")
	}
	panic("unreachable")
}

// attached reads the first frame, checks it is event_stream_attached, and
// returns its data.
func (c *sseClient) attached(t *testing.T) map[string]any {
	t.Helper()
	if c.resp.StatusCode != http.StatusOK {
		t.Fatalf("status = %d; want 200", c.resp.StatusCode)
	}
	f := c.next(t)
	if f.Event != "event_stream_attached" || f.ID != "" {
		t.Fatalf("first frame = %+v; want event_stream_attached without an id", f)
	}
	var data map[string]any
	if err := json.Unmarshal([]byte(f.Data), &data); err != nil {
		t.Fatalf("attached data %q: %v", f.Data, err)
	}
	if data["eventType"] != "event_stream_attached" || data["timestamp"] != "2026-03-01T23:29:30.158Z" {
		t.Errorf("attached data = %v; want eventType and timestamp", data)
	}
	return data
}

// serving counts goroutines running Bus.ServeHTTP.
func serving() int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return strings.Count(string(buf[:n]), "(*Bus).ServeHTTP(")
		}
		buf = make([]byte, 2*len(buf))
	}
}

// eventually waits up to 10 s for cond.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func newServer(t *testing.T, b *Bus) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(b)
	t.Cleanup(func() {
		b.Close() // end streams first, or srv.Close would wait for them
		srv.Close()
	})
	return srv
}

func TestServeHTTPStream(t *testing.T) {
	b := newTestBus(16, 1)
	srv := newServer(t, b)
	c := dial(t, srv.URL+"/v2/events?event_type=a&event_type=b,%20c", nil)
	for k, want := range map[string]string{"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no"} {
		if got := c.resp.Header.Get(k); got != want {
			t.Errorf("header %s = %q; want %q", k, got, want)
		}
	}
	data := c.attached(t)
	if data["remoteAddress"] != "127.0.0.1" {
		t.Errorf("attached remoteAddress = %v; want 127.0.0.1", data["remoteAddress"])
	}
	if _, ok := data["lastEventId"]; ok {
		t.Errorf("attached data without Last-Event-ID has lastEventId: %v", data)
	}

	var want []Event
	for _, typ := range []string{"a", "d", "b", "c"} {
		ev := b.Publish(typ, map[string]string{"taskId": "web." + typ})
		if typ != "d" {
			want = append(want, ev)
		}
	}
	for _, ev := range want {
		f := c.next(t)
		if f.ID != fmt.Sprint(ev.ID) || f.Event != ev.Type || f.Data != string(ev.Data) || f.Comment {
			t.Errorf("frame = %+v; want id %d event %s data %s", f, ev.ID, ev.Type, ev.Data)
		}
	}
}

func TestServeHTTPReplay(t *testing.T) {
	b := newTestBus(3, 1)
	srv := newServer(t, b)
	for range 5 {
		b.Publish("a", nil) // ids 1..5; the ring keeps 3..5
	}
	cases := []struct {
		name       string
		header     string
		query      string
		wantIDs    []string
		wantMissed bool
	}{
		{"header", "3", "", []string{"4", "5"}, false},
		{"query parameter", "", "?lastEventId=2", []string{"3", "4", "5"}, false},
		{"header wins", "4", "?lastEventId=1", []string{"5"}, false},
		{"older than the ring", "1", "", []string{"3", "4", "5"}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := http.Header{"Accept": {"text/event-stream"}}
			if c.header != "" {
				h.Set("Last-Event-ID", c.header)
			}
			cl := dial(t, srv.URL+"/v2/events"+c.query, h)
			data := cl.attached(t)
			if data["eventsMissed"] != c.wantMissed {
				t.Errorf("attached eventsMissed = %v; want %v", data["eventsMissed"], c.wantMissed)
			}
			if data["lastEventId"] == nil {
				t.Errorf("attached data has no lastEventId: %v", data)
			}
			for _, id := range c.wantIDs {
				if f := cl.next(t); f.ID != id {
					t.Errorf("replayed frame id = %q; want %q", f.ID, id)
				}
			}
		})
	}
}

func TestServeHTTPRequestChecks(t *testing.T) {
	b := newTestBus(4, 1)
	srv := newServer(t, b)
	cases := []struct {
		name   string
		method string
		accept []string
		query  string
		last   string
		want   int
	}{
		{"event-stream", "GET", []string{"text/event-stream"}, "", "", 200},
		{"no Accept", "GET", nil, "", "", 200},
		{"any", "GET", []string{"*/*"}, "", "", 200},
		{"in a list with q", "GET", []string{"application/json;q=0.9, text/event-stream;q=0.5"}, "", "", 200},
		{"text wildcard", "GET", []string{"text/*"}, "", "", 200},
		{"two headers", "GET", []string{"application/json", "text/event-stream"}, "", "", 200},
		{"json only", "GET", []string{"application/json"}, "", "", 406},
		{"q=0", "GET", []string{"text/event-stream;q=0"}, "", "", 406},
		{"POST", "POST", []string{"text/event-stream"}, "", "", 405},
		{"bad Last-Event-ID", "GET", []string{"text/event-stream"}, "", "abc", 400},
		{"bad lastEventId", "GET", []string{"text/event-stream"}, "?lastEventId=-1", "", 400},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			req, err := http.NewRequestWithContext(ctx, c.method, srv.URL+"/v2/events"+c.query, nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header["Accept"] = c.accept
			if c.last != "" {
				req.Header.Set("Last-Event-ID", c.last)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != c.want {
				t.Fatalf("%s with Accept %q: status = %d; want %d", c.method, c.accept, resp.StatusCode, c.want)
			}
			if c.want == 200 {
				return
			}
			body, _ := io.ReadAll(resp.Body)
			var msg struct{ Message string }
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("error Content-Type = %q; want application/json", ct)
			}
			if err := json.Unmarshal(body, &msg); err != nil || msg.Message == "" {
				t.Errorf("error body = %s; want {\"message\":…}", body)
			}
			if c.want == 405 && resp.Header.Get("Allow") != "GET" {
				t.Errorf("405 Allow = %q; want GET", resp.Header.Get("Allow"))
			}
		})
	}
	eventually(t, "every handler to return", func() bool { return serving() == 0 })
}

// pipeWriter is an in-memory http.ResponseWriter whose body the client
// reads from a pipe: each Write waits until the client has read it.
type pipeWriter struct {
	header http.Header
	pw     *io.PipeWriter
}

func (w *pipeWriter) Header() http.Header         { return w.header }
func (w *pipeWriter) WriteHeader(int)             {}
func (w *pipeWriter) Write(p []byte) (int, error) { return w.pw.Write(p) }
func (w *pipeWriter) Flush()                      {}

// serveInMemory runs b.ServeHTTP for one stream over a pipe instead of a
// socket, so that a test can run it in a synctest bubble; the stream and
// the handler end with the test.
func serveInMemory(t *testing.T, b *Bus) *sseClient {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	r := httptest.NewRequestWithContext(ctx, http.MethodGet, "/v2/events", nil)
	r.Header.Set("Accept", "text/event-stream")
	pr, pw := io.Pipe()
	handled := make(chan struct{})
	go func() {
		defer close(handled)
		b.ServeHTTP(&pipeWriter{header: http.Header{}, pw: pw}, r)
		pw.Close()
	}()
	c := &sseClient{resp: &http.Response{StatusCode: http.StatusOK, Body: pr}, cancel: cancel, frames: make(chan frame, 1024), done: make(chan struct{})}
	go c.read()
	t.Cleanup(func() {
		c.close()
		<-handled
	})
	return c
}

// TestKeepAlive: an idle stream gets a comment every keep-alive interval;
// an event comes alone, at once, and the next comment a whole interval
// after it. The bubble's fake clock makes the intervals exact.
func TestKeepAlive(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const keepAlive = 2 * time.Second
		b := newTestBus(4, 1)
		b.KeepAlive = keepAlive
		c := serveInMemory(t, b)
		start := time.Now()
		c.attached(t)
		if f := c.next(t); !f.Comment || time.Since(start) != keepAlive {
			t.Fatalf("frame on an idle stream = %+v after %v; want a keep-alive comment after %v", f, time.Since(start), keepAlive)
		}
		time.Sleep(keepAlive / 2) // on the bubble's clock
		ev := b.Publish("a", nil)
		sent := time.Now()
		if f := c.next(t); f.Comment || f.ID != fmt.Sprint(ev.ID) || time.Since(sent) != 0 {
			t.Fatalf("frame = %+v after %v; want event %d at once", f, time.Since(sent), ev.ID)
		}
		if f := c.next(t); !f.Comment || time.Since(sent) != keepAlive {
			t.Fatalf("frame after the event = %+v after %v; want a keep-alive comment after %v", f, time.Since(sent), keepAlive)
		}
	})
}

func TestClientDisconnect(t *testing.T) {
	b := newTestBus(4, 1)
	srv := newServer(t, b)
	c := dial(t, srv.URL, nil)
	c.attached(t)
	if n := b.Subscribers(); n != 1 || serving() != 1 {
		t.Fatalf("while streaming: %d subscribers, %d handlers; want 1, 1", n, serving())
	}
	c.close()
	eventually(t, "the subscription to close", func() bool { return b.Subscribers() == 0 })
	eventually(t, "the handler to return", func() bool { return serving() == 0 })
	b.Publish("a", nil) // nobody left to deliver to
}

func TestStreamEndsWhenBusCloses(t *testing.T) {
	b := newTestBus(4, 1)
	srv := newServer(t, b)
	c := dial(t, srv.URL, nil)
	c.attached(t)
	b.Close()
	select {
	case f, ok := <-c.frames:
		if ok {
			t.Fatalf("frame after bus Close = %+v; want the end of the stream", f)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("stream still open 5s after bus Close")
	}
	eventually(t, "the handler to return", func() bool { return serving() == 0 })
}

func TestStuckClientIsDisconnected(t *testing.T) {
	b := newTestBus(1, 1)
	b.WriteTimeout = 200 * time.Millisecond
	var logs syncBuffer
	b.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	srv := newServer(t, b)

	// A client that sends a request and never reads.
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, "GET /v2/events HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the stream to start", func() bool { return b.Subscribers() == 1 })

	// More than loopback socket buffers hold, and fewer events than the
	// subscription buffer, so that only the write deadline can end it.
	big := map[string]string{"pad": strings.Repeat("x", 64<<10)}
	for range 512 {
		b.Publish("a", big)
	}
	eventually(t, "the stuck stream's handler to return", func() bool { return serving() == 0 })
	if n := b.Subscribers(); n != 0 {
		t.Errorf("Subscribers() = %d after the stuck client was dropped; want 0", n)
	}
	if got := logs.String(); !strings.Contains(got, "writing to the client") || !strings.Contains(got, "timeout") {
		t.Errorf("log = %q; want the stream ended by a write timeout", got)
	}
}

// syncBuffer is a bytes.Buffer safe for a logger and a test to share.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestServeFiltered(t *testing.T) {
	b := newTestBus(16, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.ServeFiltered(w, r, func(e Event) bool { return strings.Contains(string(e.Data), `"web.a"`) })
	}))
	t.Cleanup(func() { b.Close(); srv.Close() })
	c := dial(t, srv.URL+"/v2/events", nil)
	c.attached(t)
	var want Event
	for _, id := range []string{"b", "a", "c"} {
		ev := b.Publish("x", map[string]string{"taskId": "web." + id})
		if id == "a" {
			want = ev
		}
	}
	last := b.Publish("x", map[string]string{"taskId": "web.a"})
	for _, ev := range []Event{want, last} {
		if f := c.next(t); f.ID != fmt.Sprint(ev.ID) || f.Data != string(ev.Data) {
			t.Errorf("frame = %+v; want event %d %s (the others left out)", f, ev.ID, ev.Data)
		}
	}
}
