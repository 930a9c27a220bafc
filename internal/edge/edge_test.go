package edge

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// logBuffer is a log sink safe for the server's goroutines.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// serve runs h behind an edge with cfg until the test ends; it returns the
// base URL and the server's log.
func serve(t *testing.T, cfg Config, h http.Handler) (string, *logBuffer) {
	t.Helper()
	logs := &logBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := New(cfg, h, log)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run = %v; want nil after a shutdown", err)
		}
	})
	return "http://" + ln.Addr().String(), logs
}

func do(t *testing.T, method, url string, body io.Reader) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestErrorsKeepTheCauseFromTheClient(t *testing.T) {
	secret := errors.New("pq: password authentication failed for user corral at 10.0.0.7")
	mux := http.NewServeMux()
	mux.Handle("/internal", Handle(func(w http.ResponseWriter, r *http.Request) error {
		return fmt.Errorf("loading app: %w", secret)
	}, nil))
	mux.Handle("/client", Handle(func(w http.ResponseWriter, r *http.Request) error {
		return Errorf(http.StatusUnprocessableEntity, "instances must be 0 or more")
	}, nil))
	mux.Handle("/unavailable", Handle(func(w http.ResponseWriter, r *http.Request) error {
		return Unavailable("the store is not reachable", secret)
	}, nil))
	mux.Handle("/panic", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		panic("index out of range at 10.0.0.7")
	}))
	// An API with its own error shape.
	mux.Handle("/own", Handle(func(w http.ResponseWriter, r *http.Request) error {
		return secret
	}, func(w http.ResponseWriter, r *http.Request, err error) {
		status, msg := Fail(r, err)
		w.WriteHeader(status)
		io.WriteString(w, "own: "+msg)
	}))
	base, logs := serve(t, Config{Name: "test"}, mux)

	for _, tc := range []struct {
		path     string
		code     int
		body     string
		logged   string // in the log line of the request
		loglevel string
	}{
		{"/internal", 500, `{"message":"internal server error"}`, "loading app: pq: password authentication failed", "ERROR"},
		{"/client", 422, `{"message":"instances must be 0 or more"}`, "", "DEBUG"},
		{"/unavailable", 503, `{"message":"the store is not reachable"}`, "pq: password authentication failed", "ERROR"},
		{"/panic", 500, `{"message":"internal server error"}`, "panic: index out of range at 10.0.0.7", "ERROR"},
		{"/own", 500, `own: internal server error`, "pq: password authentication failed", "ERROR"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			code, body := do(t, "GET", base+tc.path, nil)
			if code != tc.code || strings.TrimSpace(body) != tc.body {
				t.Errorf("GET %s = %d %s; want %d %s", tc.path, code, body, tc.code, tc.body)
			}
			if strings.Contains(body, "10.0.0.7") {
				t.Errorf("GET %s leaked the cause to the client: %s", tc.path, body)
			}
			var line string
			for _, l := range strings.Split(logs.String(), "\n") {
				if strings.Contains(l, "path="+tc.path+" ") {
					line = l
				}
			}
			if !strings.Contains(line, "level="+tc.loglevel) || !strings.Contains(line, tc.logged) || !strings.Contains(line, "server=test") {
				t.Errorf("log line of GET %s = %q; want level %s, server=test and %q", tc.path, line, tc.loglevel, tc.logged)
			}
		})
	}
}

func TestBodyLimit(t *testing.T) {
	var got int
	h := Handle(func(w http.ResponseWriter, r *http.Request) error {
		b, err := ReadBody(r)
		if err != nil {
			return err
		}
		got = len(b)
		w.WriteHeader(http.StatusNoContent)
		return nil
	}, nil)
	base, _ := serve(t, Config{MaxBodyBytes: 1000}, h)
	for _, tc := range []struct {
		name string
		body io.Reader
		code int
	}{
		{"under", strings.NewReader(strings.Repeat("x", 1000)), 204},
		{"over, by Content-Length", strings.NewReader(strings.Repeat("x", 1001)), 413},
		// No Content-Length: the limit applies as the body is read.
		{"over, chunked", io.MultiReader(strings.NewReader(strings.Repeat("x", 600)), strings.NewReader(strings.Repeat("x", 600))), 413},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got = -1
			code, body := do(t, "POST", base, tc.body)
			if code != tc.code {
				t.Fatalf("POST %s = %d %s; want %d", tc.name, code, body, tc.code)
			}
			if code == 413 && (got != -1 || !strings.Contains(body, "larger than 1000 bytes")) {
				t.Errorf("POST %s: handler read %d bytes, answer %s; want no body and a message naming the limit", tc.name, got, body)
			}
		})
	}
}

// A client that sends its body too slowly gets 408; one that has sent it
// keeps a long-lived response (an event stream) past the body timeout.
func TestBodyTimeoutSparesStreams(t *testing.T) {
	h := Handle(func(w http.ResponseWriter, r *http.Request) error {
		if _, err := ReadBody(r); err != nil {
			return err
		}
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusOK)
		for i := range 4 {
			select {
			case <-r.Context().Done():
				return nil
			case <-time.After(150 * time.Millisecond):
			}
			fmt.Fprintf(w, "data: %d\n\n", i)
			w.(http.Flusher).Flush()
		}
		return nil
	}, nil)
	base, _ := serve(t, Config{BodyTimeout: 200 * time.Millisecond}, h)

	// The stream outlives the body timeout (4 × 150 ms > 200 ms).
	resp, err := http.Post(base, "application/json", strings.NewReader(`{"subscribe":true}`))
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(resp.Body)
	var events []string
	for sc.Scan() {
		if l := sc.Text(); l != "" {
			events = append(events, l)
		}
	}
	resp.Body.Close()
	if len(events) != 4 {
		t.Errorf("stream after the body was read = %q; want 4 events (the body timeout must not cut it)", events)
	}

	// A body that stalls gets 408.
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\npartial")
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	status, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil || !strings.Contains(status, "408") {
		t.Errorf("a stalled body got %q (%v); want 408", status, err)
	}
}

// Run lets a request in flight finish when its context ends.
func TestGracefulShutdown(t *testing.T) {
	started := make(chan struct{})
	release := make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-release
		io.WriteString(w, "finished")
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := New(Config{ShutdownGrace: 10 * time.Second}, h, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, ln) }()
	got := make(chan string, 1)
	go func() {
		resp, err := http.Get("http://" + ln.Addr().String())
		if err != nil {
			got <- err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		got <- string(b)
	}()
	<-started
	cancel()
	select {
	case err := <-done:
		t.Fatalf("Run returned %v with a request in flight", err)
	case <-time.After(100 * time.Millisecond):
	}
	if _, err := net.Dial("tcp", ln.Addr().String()); err == nil {
		t.Error("the server still accepts connections while shutting down")
	}
	close(release)
	if b := <-got; b != "finished" {
		t.Errorf("the request in flight got %q; want it finished", b)
	}
	if err := <-done; err != nil {
		t.Errorf("Run = %v; want nil", err)
	}
}

// Guards run in order, inside the edge, around every request.
func TestGuards(t *testing.T) {
	var order []string
	guard := func(name string, refuse bool) Middleware {
		return func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				order = append(order, name)
				if refuse {
					Write(w, r, Errorf(http.StatusUnauthorized, "%s refused", name))
					return
				}
				next.ServeHTTP(w, r)
			})
		}
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { order = append(order, "handler") })
	base, _ := serve(t, Config{Guards: []Middleware{guard("authn", false), guard("authz", false)}}, h)
	if code, _ := do(t, "GET", base, nil); code != 200 || strings.Join(order, ",") != "authn,authz,handler" {
		t.Errorf("GET = %d, order %v; want 200 through authn, authz, handler", code, order)
	}
	order = nil
	base, _ = serve(t, Config{Guards: []Middleware{guard("authn", true), guard("authz", false)}}, h)
	if code, body := do(t, "GET", base, nil); code != 401 || strings.Join(order, ",") != "authn" || !strings.Contains(body, "authn refused") {
		t.Errorf("GET = %d %s, order %v; want 401 from authn alone", code, body, order)
	}
}
