package master

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"

	"corral/internal/edge"
	"corral/internal/events"
	"corral/internal/lead"
	"corral/kernel/master/internal/core"
	"corral/web"
)

// The console's routes on the master (see package web for the pages):
//
//	GET /, /assets/*              the embedded console
//	GET /console/state            the leader's /state (a standby proxies it)
//	GET /console/events           SSE: "state_changed" when /state would differ
//	    /framework/{name}/*       reverse proxy to that framework's webui_url,
//	                              if its host is allowed (FrameworkWebUIHosts)
//	GET /agent/{agentID}/files/*  reverse proxy to that agent's /files/*
//
// Errors of these routes are JSON {"message": "..."}.
const (
	consolePrefix   = "/console/"
	frameworkPrefix = "/framework/"
	agentPrefix     = "/agent/"
)

// Console event stream tuning.
const (
	// consolePollInterval is how often the state's fingerprint is taken
	// while someone watches; it bounds the events to a few a second.
	consolePollInterval = 250 * time.Millisecond
	// consoleKeepAlive is how long a quiet stream waits before a comment.
	consoleKeepAlive = 10 * time.Second
	// consoleEventType names the one event the stream carries.
	consoleEventType = "state_changed"
)

// consoleRoutes adds the console's routes to the leading master's router.
func (m *Master) consoleRoutes(r chi.Router) {
	cs := newConsole(m, consolePollInterval)
	consoleFiles(r)
	r.Get("/console/state", m.handleState)
	r.Get("/console/events", cs.handleEvents)
	r.HandleFunc(consolePrefix+"*", func(w http.ResponseWriter, r *http.Request) {
		writeMessage(w, http.StatusNotFound, "No console endpoint at "+r.URL.Path)
	})
	r.HandleFunc(frameworkPrefix+"*", m.handleFrameworkProxy(m.webuiHosts()))
	r.HandleFunc(agentPrefix+"*", m.handleAgentFiles)
}

// consoleFiles routes GET and HEAD of the embedded console's files.
func consoleFiles(r chi.Router) {
	static := web.Handler()
	for _, p := range []string{web.IndexPath, "/index.html", web.AssetsPrefix + "*"} {
		r.Method(http.MethodGet, p, static)
		r.Method(http.MethodHead, p, static)
	}
}

// writeMessage writes the console's error body, {"message": msg}.
func writeMessage(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"message": msg})
}

// --- state change events --------------------------------------------------

// console feeds /console/events. One watcher goroutine, started by the
// first subscriber and ended with the master's loop, takes a fingerprint
// of the state on the loop every interval while anyone listens and
// publishes an event when it changed. Publishing never waits for a
// client (events.Bus drops a subscriber that falls behind; its
// EventSource reconnects and re-reads /state), so a slow browser can never
// hold up the loop.
type console struct {
	m        *Master
	bus      *events.Bus
	interval time.Duration
	seed     maphash.Seed
	start    sync.Once
}

func newConsole(m *Master, interval time.Duration) *console {
	bus := events.NewBus(0, events.StartID(time.Now()))
	bus.KeepAlive = consoleKeepAlive
	// One pending event is all a client needs: each says "re-read".
	bus.SubscriberBuffer = 16
	bus.Logger = m.log.With("stream", "console")
	return &console{m: m, bus: bus, interval: interval, seed: maphash.MakeSeed()}
}

// handleEvents serves GET /console/events (see events.Bus.ServeHTTP for
// the framing): an event_stream_attached frame, then one state_changed
// event, with counts, each time the cluster state changes, at most one per
// poll interval, and a comment line after consoleKeepAlive of silence.
func (cs *console) handleEvents(w http.ResponseWriter, r *http.Request) {
	cs.start.Do(func() { go cs.watch() })
	cs.bus.ServeHTTP(w, r)
}

// watch runs until the master's loop has stopped; it then closes the bus,
// which ends every stream so browsers reconnect (to the next leader).
func (cs *console) watch() {
	defer cs.bus.Close()
	tick := time.NewTicker(cs.interval)
	defer tick.Stop()
	// The zero fingerprint is "nothing seen yet": the first one taken
	// differs (unless the cluster is empty), so a client that connects
	// before it re-reads once more rather than missing a change.
	var last core.Fingerprint
	for {
		select {
		case <-cs.m.stopped:
			return
		case <-tick.C:
		}
		if cs.bus.Subscribers() == 0 {
			continue
		}
		// The closure may outlive do when the master stops; it only
		// writes to the buffered channel.
		got := make(chan core.Fingerprint, 1)
		if err := cs.m.do(context.Background(), func(c *core.Core) { got <- c.Fingerprint(cs.seed) }); err != nil {
			return
		}
		if fp := <-got; fp != last {
			cs.bus.Publish(consoleEventType, fp)
			last = fp
		}
	}
}

// --- reverse proxies ------------------------------------------------------

// proxiedPolicy is the Content-Security-Policy added to every response
// the master proxies. The console reads the frameworks' APIs and the
// agents' files with fetch and EventSource, which a response's policy does
// not affect; but a browser that opens a proxied URL as a page (a link, a
// page a framework serves, a file in a sandbox) would otherwise run its
// scripts with the console's origin. "sandbox" without allow-scripts or
// allow-same-origin makes such a page run no script, in an opaque origin;
// the rest allows its images and styles only.
const proxiedPolicy = "sandbox; default-src 'none'; img-src 'self' data:; style-src 'self' 'unsafe-inline'"

// webuiHosts is the set of hosts the /framework/ proxy may reach (see
// Config.FrameworkWebUIHosts). Host names match case-insensitively and
// without a trailing dot; IP addresses match as addresses (an IPv4-mapped
// IPv6 address is its IPv4 one).
type webuiHosts struct {
	all      bool            // "*"
	loopback bool            // any loopback address (the default)
	names    map[string]bool // normalized host names
	addrs    []netip.Addr
	allowed  string // what is allowed, for messages
}

// newWebuiHosts returns the hosts list allows; an empty list allows
// loopback addresses, "localhost" and own (the master's advertised host
// and its address).
func newWebuiHosts(list []string, own ...string) webuiHosts {
	h := webuiHosts{names: map[string]bool{}, allowed: strings.Join(list, ", ")}
	if len(list) == 0 {
		h.loopback, h.names["localhost"] = true, true
		var shown []string
		for _, o := range own {
			if o != "" && !slices.Contains(shown, o) {
				shown = append(shown, o)
			}
		}
		h.allowed = "loopback addresses, localhost"
		if len(shown) > 0 {
			h.allowed += " and this master's host " + strings.Join(shown, ", ")
		}
		list = own
	}
	for _, e := range list {
		e = normalizeHost(e)
		switch a, err := netip.ParseAddr(e); {
		case e == "":
		case e == "*":
			h.all = true
		case err == nil:
			h.addrs = append(h.addrs, a.Unmap().WithZone(""))
		default:
			h.names[e] = true
		}
	}
	return h
}

func normalizeHost(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	s = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
	return strings.TrimSuffix(s, ".")
}

// allows reports whether the proxy may send requests to host (a URL's
// Hostname).
func (h webuiHosts) allows(host string) bool {
	host = normalizeHost(host)
	switch {
	case host == "":
		return false
	case h.all:
		return true
	}
	if a, err := netip.ParseAddr(host); err == nil {
		a = a.Unmap().WithZone("")
		return (h.loopback && a.IsLoopback()) || slices.Contains(h.addrs, a)
	}
	return h.names[host]
}

// webuiHosts is the /framework/ proxy's allow-list for this master.
func (m *Master) webuiHosts() webuiHosts {
	var own []string
	if u, err := url.Parse(m.url); err == nil {
		own = append(own, u.Hostname())
	}
	if m.info.Address != nil {
		own = append(own, m.info.Address.IP)
	}
	return newWebuiHosts(m.cfg.FrameworkWebUIHosts, own...)
}

// splitMount splits a request path below mount ("/framework/") into its
// first segment (unescaped) and the rest, still escaped, starting with "/"
// or empty.
func splitMount(u *url.URL, mount string) (seg, rest string, ok bool) {
	p, found := strings.CutPrefix(u.EscapedPath(), mount)
	if !found {
		return "", "", false
	}
	rawSeg, rest, _ := strings.Cut(p, "/")
	if rest != "" || strings.HasSuffix(p, "/") {
		rest = "/" + rest
	}
	seg, err := url.PathUnescape(rawSeg)
	if err != nil || seg == "" {
		return "", "", false
	}
	return seg, rest, true
}

// proxyTo returns a reverse proxy to target: the request's escaped path
// below prefix is appended to target's path, the query is kept,
// X-Forwarded-* and X-Forwarded-Prefix are set, and a Location header
// pointing into target is rewritten to point into prefix. Redirects are
// not followed: the 3xx goes back to the browser, and a Location
// elsewhere is left as it is. Every response gets proxiedPolicy (in
// addition to any policy of its own: browsers enforce both) and nosniff.
// Responses are flushed as they come, so event streams pass through. When
// target cannot be reached the answer is 502, with a message naming
// upstream.
func proxyTo(target *url.URL, prefix, rest, upstream string, transport http.RoundTripper) *httputil.ReverseProxy {
	base := strings.TrimSuffix(target.Scheme+"://"+target.Host+target.EscapedPath(), "/")
	return &httputil.ReverseProxy{
		FlushInterval: -1,
		Rewrite: func(pr *httputil.ProxyRequest) {
			raw := strings.TrimSuffix(target.EscapedPath(), "/") + rest
			if raw == "" {
				raw = "/"
			}
			p, err := url.PathUnescape(raw)
			if err != nil {
				p = raw
			}
			pr.Out.URL.Scheme, pr.Out.URL.Host = target.Scheme, target.Host
			pr.Out.URL.Path, pr.Out.URL.RawPath = p, raw
			pr.Out.Host = target.Host
			pr.SetXForwarded()
			// The master's edge checked the caller's Origin against the
			// console's; the target would see another host's.
			pr.Out.Header.Del("Origin")
			if prefix != "" {
				pr.Out.Header.Set("X-Forwarded-Prefix", prefix)
			}
		},
		// A RoundTripper never follows redirects (only an http.Client
		// does). It presents no credential of the master's: the caller's
		// own Authorization goes through.
		Transport: transport,
		ModifyResponse: func(resp *http.Response) error {
			resp.Header.Add("Content-Security-Policy", proxiedPolicy)
			resp.Header.Set("X-Content-Type-Options", "nosniff")
			if loc := resp.Header.Get("Location"); loc != "" {
				if rest, ok := strings.CutPrefix(loc, base); ok && (rest == "" || rest[0] == '/' || rest[0] == '?') {
					resp.Header.Set("Location", prefix+rest)
				} else if strings.HasPrefix(loc, "/") && !strings.HasPrefix(loc, "//") && strings.Trim(target.EscapedPath(), "/") == "" {
					// Root-relative, on a target at its root: the same
					// path below prefix.
					resp.Header.Set("Location", prefix+loc)
				}
			}
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			if r.Context().Err() != nil {
				return // the client went away; nobody reads an answer
			}
			writeMessage(w, http.StatusBadGateway, fmt.Sprintf("%s did not answer: %v", upstream, err))
		},
	}
}

// consoleError is a console route's answer to a request it cannot serve.
type consoleError struct {
	code int
	msg  string
}

func (e *consoleError) Error() string { return e.msg }

// frameworkTarget finds the webui_url of the framework with the id name,
// or else of the connected framework named name. Several connected
// frameworks with that name are a 409 naming their ids; a disconnected one
// is a 503 saying until when it may come back.
func (m *Master) frameworkTarget(ctx context.Context, name string) (*url.URL, error) {
	if !m.recovered.Load() {
		return nil, &consoleError{http.StatusServiceUnavailable, "The master is still recovering its registry; retry shortly"}
	}
	got := make(chan []core.FrameworkMatch, 1)
	err := m.do(ctx, func(c *core.Core) { got <- c.FrameworksNamed(name) })
	if err != nil {
		return nil, &consoleError{http.StatusServiceUnavailable, "The master is stopping"}
	}
	matches := <-got
	if len(matches) == 0 {
		return nil, &consoleError{http.StatusBadGateway, fmt.Sprintf("The %q framework is not registered with the master", name)}
	}
	for _, f := range matches {
		if f.ID == name {
			matches = []core.FrameworkMatch{f}
			break
		}
	}
	var connected []string
	for _, f := range matches {
		if f.Connected {
			connected = append(connected, f.ID)
		}
	}
	if len(connected) > 1 {
		// Which one the console should talk to is not ours to guess: a
		// framework registered later under the same name must not take
		// over another's API address.
		sort.Strings(connected)
		return nil, &consoleError{http.StatusConflict, fmt.Sprintf("Several connected frameworks are named %q (%s); name one by id: %s<id>/...", name, strings.Join(connected, ", "), frameworkPrefix)}
	}
	sort.Slice(matches, func(i, j int) bool {
		a, b := matches[i], matches[j]
		if a.Connected != b.Connected {
			return a.Connected
		}
		return a.RegisteredAt.After(b.RegisteredAt)
	})
	f := matches[0]
	if !f.Connected {
		msg := fmt.Sprintf("The %q framework (%s) is disconnected from the master", name, f.ID)
		if !f.DisconnectedAt.IsZero() {
			msg += fmt.Sprintf(" since %s; it has until %s to re-subscribe",
				f.DisconnectedAt.UTC().Format(time.RFC3339), f.DisconnectedAt.Add(f.FailoverTimeout).UTC().Format(time.RFC3339))
		}
		return nil, &consoleError{http.StatusServiceUnavailable, msg}
	}
	if f.WebuiURL == "" {
		return nil, &consoleError{http.StatusBadGateway, fmt.Sprintf("The %q framework (%s) registered no webui_url, so its API cannot be reached through the master", name, f.ID)}
	}
	u, err := url.Parse(f.WebuiURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, &consoleError{http.StatusBadGateway, fmt.Sprintf("The %q framework (%s) registered webui_url %q, which is not an http(s) URL", name, f.ID, f.WebuiURL)}
	}
	return u, nil
}

// handleFrameworkProxy serves /framework/{name}/*: the request goes, with
// the prefix stripped, to the webui_url of the connected framework whose
// name or id is {name}, if hosts allows its host. Unknown framework: 502;
// disconnected: 503; a host not allowed: 403; its API unreachable: 502
// (JSON messages saying which).
func (m *Master) handleFrameworkProxy(hosts webuiHosts) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		name, rest, ok := splitMount(r.URL, frameworkPrefix)
		if !ok {
			writeMessage(w, http.StatusNotFound, "Name a framework: /framework/<name or id>/<path>")
			return
		}
		target, err := m.frameworkTarget(r.Context(), name)
		if err != nil {
			writeConsoleError(w, r, err)
			return
		}
		if !hosts.allows(target.Hostname()) {
			writeMessage(w, http.StatusForbidden, fmt.Sprintf("The %q framework's webui_url %s is on host %q, which this master does not proxy to (allowed: %s); "+
				"add the host to the master's --framework_webui_hosts to allow it", name, target.Redacted(), target.Hostname(), hosts.allowed))
			return
		}
		prefix := frameworkPrefix + url.PathEscape(name)
		// A standby's loop guard is for masters; the framework has its own.
		r.Header.Del(lead.ForwardedBy)
		proxyTo(target, prefix, rest, fmt.Sprintf("The %q framework's API at %s", name, target.Redacted()), m.proxyTransport).ServeHTTP(w, r)
	}
}

// handleAgentFiles serves GET /agent/{agentID}/files/*: the request goes
// to that agent's endpoint as /files/* (browse, read, download), so the
// console reads sandboxes through the master. Only the agent's /files
// endpoints are reachable this way, and only with GET or HEAD.
func (m *Master) handleAgentFiles(w http.ResponseWriter, r *http.Request) {
	id, rest, ok := splitMount(r.URL, agentPrefix)
	if !ok || !strings.HasPrefix(rest, "/files/") {
		writeMessage(w, http.StatusNotFound, "Only an agent's files are served here: /agent/<agent id>/files/{browse,read,download}")
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeMessage(w, http.StatusMethodNotAllowed, "Method "+r.Method+" is not allowed on an agent's files; use GET")
		return
	}
	type hit struct {
		found    bool
		endpoint string
	}
	got := make(chan hit, 1)
	if err := m.do(r.Context(), func(c *core.Core) {
		endpoint, found := c.AgentEndpoint(id)
		got <- hit{found: found, endpoint: endpoint}
	}); err != nil {
		writeMessage(w, http.StatusServiceUnavailable, "The master is stopping")
		return
	}
	h := <-got
	if !h.found {
		writeMessage(w, http.StatusNotFound, fmt.Sprintf("No agent with id %q is known to the master", id))
		return
	}
	endpoint := h.endpoint
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		writeMessage(w, http.StatusBadGateway, fmt.Sprintf("Agent %s has no usable endpoint (%q)", id, endpoint))
		return
	}
	// A standby's loop guard is for masters; the framework has its own.
	r.Header.Del(lead.ForwardedBy)
	proxyTo(u, agentPrefix+url.PathEscape(id), rest, fmt.Sprintf("Agent %s at %s", id, u.Redacted()), m.proxyTransport).ServeHTTP(w, r)
}

func writeConsoleError(w http.ResponseWriter, r *http.Request, err error) {
	var ce *consoleError
	if errors.As(err, &ce) {
		writeMessage(w, ce.code, ce.msg)
		return
	}
	code, msg := edge.Fail(r, err)
	writeMessage(w, code, msg)
}
