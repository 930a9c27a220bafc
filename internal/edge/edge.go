package edge

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"sync"
	"time"
)

// Middleware wraps a handler; the edge's guards have this shape.
type Middleware = func(http.Handler) http.Handler

// Config is how a server meets the network. The zero value of a field
// means its default (DefaultConfig).
type Config struct {
	// Name names the server in its log lines ("master", "services", …).
	Name string
	// ReadHeaderTimeout bounds reading a request's headers. Default 10s.
	ReadHeaderTimeout time.Duration
	// BodyTimeout bounds reading a request's body, from the moment the
	// handler starts. A client that sends its body slower gets 408.
	// Default 30s.
	BodyTimeout time.Duration
	// WriteTimeout, when set, bounds each response, from the end of its
	// request's headers: only for servers without long-lived responses
	// (event streams). Default none.
	WriteTimeout time.Duration
	// IdleTimeout closes keep-alive connections idle this long. Default 2m.
	IdleTimeout time.Duration
	// MaxBodyBytes caps a request body; a larger one gets 413 before the
	// handler runs (by Content-Length) or when the handler reads past it.
	// Default 8 MiB.
	MaxBodyBytes int64
	// ShutdownGrace is how long Run lets requests in flight finish after
	// its context ends before it closes every connection. Default 5s.
	ShutdownGrace time.Duration
	// TLS, when set, makes the server speak HTTPS with it.
	TLS *tls.Config
	// Guards wrap every request, outermost first, inside the edge's own
	// recovery, logging and body limit: authentication, authorization and
	// cross-site checks plug in here.
	Guards []Middleware
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{
		ReadHeaderTimeout: 10 * time.Second,
		BodyTimeout:       30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxBodyBytes:      8 << 20,
		ShutdownGrace:     5 * time.Second,
	}
}

// withDefaults fills the zero fields from DefaultConfig.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.ReadHeaderTimeout <= 0 {
		c.ReadHeaderTimeout = d.ReadHeaderTimeout
	}
	if c.BodyTimeout <= 0 {
		c.BodyTimeout = d.BodyTimeout
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = d.IdleTimeout
	}
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = d.MaxBodyBytes
	}
	if c.ShutdownGrace <= 0 {
		c.ShutdownGrace = d.ShutdownGrace
	}
	return c
}

// Server is one HTTP server on the edge. Its handler sees every request
// after the edge's recovery, logging, body limit and guards.
type Server struct {
	cfg  Config
	log  *slog.Logger
	srv  *http.Server
	once sync.Once
}

// New returns a server of h. A nil log discards.
func New(cfg Config, h http.Handler, log *slog.Logger) *Server {
	cfg = cfg.withDefaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.Name != "" {
		log = log.With("server", cfg.Name)
	}
	s := &Server{cfg: cfg, log: log}
	s.srv = &http.Server{
		Handler:           s.Wrap(h),
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		WriteTimeout:      cfg.WriteTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		// A copy: net/http adds its protocols to the config it serves
		// with, and one config may be shared by several servers (corral
		// dev's parts).
		TLSConfig: cfg.TLS.Clone(),
		ErrorLog:  slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	return s
}

// Wrap returns h behind the edge (recovery, logging, body limit, guards)
// without a server of its own: for handlers mounted inside another one.
func (s *Server) Wrap(h http.Handler) http.Handler {
	for i := len(s.cfg.Guards) - 1; i >= 0; i-- {
		h = s.cfg.Guards[i](h)
	}
	return s.logged(s.limited(h))
}

// Serve accepts connections on ln until Shutdown; it returns nil then, and
// the listener's error otherwise. ctx is every request's base context.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	s.srv.BaseContext = func(net.Listener) context.Context { return ctx }
	var err error
	if s.cfg.TLS != nil {
		err = s.srv.ServeTLS(ln, "", "")
	} else {
		err = s.srv.Serve(ln)
	}
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Shutdown stops accepting, lets requests in flight finish until ctx ends
// and then closes every connection. It is idempotent.
func (s *Server) Shutdown(ctx context.Context) {
	s.once.Do(func() {
		if err := s.srv.Shutdown(ctx); err != nil {
			s.srv.Close()
		}
	})
}

// Run serves on ln until ctx ends, then shuts down within the configured
// grace. It returns nil after a shutdown, or the listener's error.
func (s *Server) Run(ctx context.Context, ln net.Listener) error {
	errc := make(chan error, 1)
	go func() { errc <- s.Serve(context.WithoutCancel(ctx), ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.ShutdownGrace)
	defer cancel()
	s.Shutdown(sctx)
	return <-errc
}

// limited caps the body's size and the time to read it.
func (s *Server) limited(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > s.cfg.MaxBodyBytes {
			Write(w, r, TooLarge(s.cfg.MaxBodyBytes))
			return
		}
		if r.Body != nil && r.Body != http.NoBody {
			rc := http.NewResponseController(w)
			// The deadline is lifted once the body is read: the server
			// then watches the connection for the client going away, and
			// a deadline there would end a long-lived response.
			_ = rc.SetReadDeadline(time.Now().Add(s.cfg.BodyTimeout))
			r.Body = &body{ReadCloser: http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes), rc: rc}
		}
		h.ServeHTTP(w, r)
	})
}

// body lifts the read deadline once the body has been read to its end.
// After any other error the deadline stays, so that the server's attempt
// to drain what is left of a stalled body fails at once.
type body struct {
	io.ReadCloser
	rc   *http.ResponseController
	done bool
}

func (b *body) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF && !b.done {
		b.done = true
		_ = b.rc.SetReadDeadline(time.Time{})
	}
	return n, err
}

// TooLarge is the error for a body over max bytes.
func TooLarge(max int64) *Error {
	return Errorf(http.StatusRequestEntityTooLarge, "request body is larger than %d bytes", max)
}

// ReadBody reads a request's whole body. Past the edge's limit it returns
// a 413 Error, after the edge's body timeout a 408 Error, and a 400 Error
// for other read failures.
func ReadBody(r *http.Request) ([]byte, error) {
	if r.Body == nil {
		return nil, nil
	}
	b, err := io.ReadAll(r.Body)
	if err == nil {
		return b, nil
	}
	var mb *http.MaxBytesError
	var ne net.Error
	switch {
	case errors.As(err, &mb):
		return nil, TooLarge(mb.Limit)
	case errors.As(err, &ne) && ne.Timeout():
		return nil, Errorf(http.StatusRequestTimeout, "the request body was not received in time")
	}
	return nil, &Error{Status: http.StatusBadRequest, Message: "cannot read the request body", Cause: err}
}

// record is what the logging middleware learns of a request as it runs.
type record struct {
	status int
	bytes  int64
	cause  error
}

type recordKey struct{}

// logged logs every request once it ends (5xx with their cause at error
// level, others at debug) and turns a panic into a 500.
func (s *Server) logged(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &record{}
		sw := &statusWriter{ResponseWriter: w, rec: rec}
		r = r.WithContext(context.WithValue(r.Context(), recordKey{}, rec))
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				rec.cause = fmt.Errorf("panic: %v\n%s", p, debug.Stack())
				if rec.status == 0 {
					Write(sw, r, &Error{Status: http.StatusInternalServerError, Message: "internal server error"})
				}
			}
			status := rec.status
			if status == 0 {
				status = http.StatusOK
			}
			attrs := []any{"method", r.Method, "path", r.URL.Path, "status", status,
				"bytes", rec.bytes, "duration", time.Since(start), "remote", r.RemoteAddr}
			switch {
			case status >= 500:
				if rec.cause != nil {
					attrs = append(attrs, "err", rec.cause.Error())
				}
				s.log.Error("request failed", attrs...)
			case rec.cause != nil:
				s.log.Debug("request", append(attrs, "err", rec.cause.Error())...)
			default:
				s.log.Debug("request", attrs...)
			}
		}()
		h.ServeHTTP(sw, r)
	})
}

// statusWriter notes the status and size of a response. It keeps Flush
// and the response controller working for streams.
type statusWriter struct {
	http.ResponseWriter
	rec *record
}

func (w *statusWriter) WriteHeader(code int) {
	if w.rec.status == 0 {
		w.rec.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.rec.status == 0 {
		w.rec.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(p)
	w.rec.bytes += int64(n)
	return n, err
}

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the connection.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
