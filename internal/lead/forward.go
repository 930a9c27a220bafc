package lead

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/url"

	"corral/internal/edge"
)

// ForwardedBy is the header a Forwarder sets on each request it passes
// to the leader, naming the forwarding instance's URL. A Forwarder never
// passes on a request that carries it, so two instances that each believe
// the other leads cannot bounce a request between them: it is forwarded
// once at most.
const ForwardedBy = "X-Corral-Forwarded-By"

// Forwarder is a standby's reverse proxy to the leader, a plain
// http.Handler to mount where the standby's API wants it. It passes a
// request on unchanged (method, path, query, body, and the caller's
// headers, Authorization included, so the leader authenticates the
// caller; only Origin is dropped, which this instance's edge checked),
// streams the answer back as it comes, and adds ForwardedBy and
// the X-Forwarded-* headers. Its fields are set before it serves and not
// changed after.
type Forwarder struct {
	// Self is this instance: a leader that is Self is never forwarded to
	// (it is elected but its term is not serving yet).
	Self Member
	// Leader names the leader; an Election's Leader method. Required.
	Leader func() (Member, bool)
	// Name is what the messages call an instance: "services instance",
	// "jobs instance", "master". Empty means "instance".
	Name string
	// Forward says which requests go to the leader; nil sends every one.
	Forward func(*http.Request) bool
	// Next serves the requests Forward keeps here. Required with Forward.
	Next http.Handler
	// Fallback serves the requests that should go to the leader but
	// cannot: while no other instance is known to lead, and those already
	// forwarded once. Nil answers them 503 through Error. (An API whose
	// every instance can carry a write out itself sets its own handler.)
	Fallback http.Handler
	// Error writes a failure in the API's own shape (Marathon's JSON,
	// Chronos', Mesos' text): err is an *edge.Error whose Message is the
	// client's and whose Cause is only logged. Nil means edge.Write.
	Error func(w http.ResponseWriter, r *http.Request, err error)
	// Transport carries the forwarded requests; nil means
	// http.DefaultTransport.
	Transport http.RoundTripper
	// Log receives the proxy's own failures (an answer cut off halfway);
	// nil means slog.Default().
	Log *slog.Logger
}

// ServeHTTP forwards r to the leader, or passes it to Next or Fallback.
func (f *Forwarder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if f.Forward != nil && !f.Forward(r) {
		f.Next.ServeHTTP(w, r)
		return
	}
	if by := r.Header.Get(ForwardedBy); by != "" {
		f.unable(w, r, fmt.Sprintf("the request was forwarded by %s, and this %s does not lead either (an election is in progress); retry shortly", by, f.name()))
		return
	}
	l, ok := f.Leader()
	if !ok || l.Same(f.Self) {
		f.unable(w, r, fmt.Sprintf("no leading %s is known (an election or take-over is in progress); retry shortly", f.name()))
		return
	}
	target, err := url.Parse(l.URL)
	if err != nil || target.Host == "" || (target.Scheme != "http" && target.Scheme != "https") {
		f.unable(w, r, fmt.Sprintf("the leading %s published an unusable URL %q; retry shortly", f.name(), l.URL))
		return
	}
	by := f.Self.URL
	if by == "" {
		by = f.Self.ID
	}
	if by == "" {
		by = "a standby"
	}
	log := f.Log
	if log == nil {
		log = slog.Default()
	}
	p := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.SetXForwarded()
			pr.Out.Header.Set(ForwardedBy, by)
			// This instance's edge has checked the caller's Origin
			// against its own; the leader would see another host's.
			pr.Out.Header.Del("Origin")
		},
		Transport:     f.Transport,
		FlushInterval: -1, // event streams pass through as they come
		ErrorLog:      slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			f.fail(w, r, edge.Unavailable(fmt.Sprintf("the leading %s at %s did not answer; retry shortly", f.name(), l.URL), err))
		},
	}
	p.ServeHTTP(w, r)
}

// unable answers a request that cannot go to the leader: Fallback's
// answer, or 503 with msg.
func (f *Forwarder) unable(w http.ResponseWriter, r *http.Request, msg string) {
	if f.Fallback != nil {
		f.Fallback.ServeHTTP(w, r)
		return
	}
	f.fail(w, r, edge.Unavailable(msg, nil))
}

func (f *Forwarder) fail(w http.ResponseWriter, r *http.Request, err error) {
	if f.Error != nil {
		f.Error(w, r, err)
		return
	}
	edge.Write(w, r, err)
}

func (f *Forwarder) name() string {
	if f.Name == "" {
		return "instance"
	}
	return f.Name
}
