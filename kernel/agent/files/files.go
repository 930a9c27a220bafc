package files

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/go-chi/chi/v5"
)

// MaxReadLength caps one /files/read response.
const MaxReadLength = 4 << 20

// Server serves files below one root directory. It is safe for concurrent
// use.
type Server struct {
	root string
	log  *slog.Logger

	mu    sync.Mutex
	names map[string]string // "u<id>" / "g<id>" -> name
}

// New returns a Server for the directory root (which must exist).
func New(root string, logger *slog.Logger) (*Server, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("files root %q: %w", root, err)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Server{root: abs, log: logger.With("component", "files"), names: map[string]string{}}, nil
}

// Routes returns the handler for /files/browse, /files/read and
// /files/download (mount it at the server root).
func (s *Server) Routes() http.Handler {
	r := chi.NewRouter()
	r.Get("/files/browse", s.handle(s.browse))
	r.Get("/files/read", s.handle(s.read))
	r.Get("/files/download", s.handle(s.download))
	return r
}

// httpError is a client-facing error with its status; cause is logged.
type httpError struct {
	status int
	msg    string
	cause  error
}

func (e *httpError) Error() string { return e.msg }

func errorf(status int, format string, args ...any) *httpError {
	return &httpError{status: status, msg: fmt.Sprintf(format, args...)}
}

func (s *Server) handle(h func(http.ResponseWriter, *http.Request) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		err := h(w, r)
		if err == nil {
			return
		}
		var he *httpError
		if !errors.As(err, &he) {
			he = &httpError{status: http.StatusInternalServerError, msg: "internal error", cause: err}
		}
		if he.cause != nil {
			s.log.Warn("files request failed", "path", r.URL.Path, "query", r.URL.RawQuery, "err", he.cause)
		}
		http.Error(w, he.msg, he.status)
	}
}

// rel turns the path parameter into a path relative to the root, refusing
// anything that escapes it.
func (s *Server) rel(r *http.Request) (string, error) {
	p := r.URL.Query().Get("path")
	if p == "" {
		return "", errorf(http.StatusBadRequest, "missing 'path' query parameter")
	}
	if strings.ContainsRune(p, 0) {
		return "", errorf(http.StatusBadRequest, "invalid path")
	}
	if filepath.IsAbs(p) {
		rel, err := filepath.Rel(s.root, filepath.Clean(p))
		if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
			return "", errorf(http.StatusForbidden, "path %q is outside the sandboxes", p)
		}
		return rel, nil
	}
	c := filepath.Clean(p)
	if c == ".." || strings.HasPrefix(c, "../") {
		return "", errorf(http.StatusForbidden, "path %q escapes the sandboxes", p)
	}
	return c, nil
}

// open opens rel inside the root; symlinks may not lead outside it.
func (s *Server) open(rel string) (*os.File, fs.FileInfo, error) {
	root, err := os.OpenRoot(s.root)
	if err != nil {
		return nil, nil, fmt.Errorf("opening sandbox root: %w", err)
	}
	defer root.Close()
	f, err := root.Open(rel)
	if err != nil {
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return nil, nil, errorf(http.StatusNotFound, "no such file or directory")
		case errors.Is(err, fs.ErrPermission):
			return nil, nil, errorf(http.StatusForbidden, "permission denied")
		default: // e.g. a symlink pointing outside the root
			return nil, nil, &httpError{status: http.StatusForbidden, msg: "path is not accessible", cause: err}
		}
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("stat: %w", err)
	}
	return f, fi, nil
}

// Entry is one element of a browse listing, as Mesos returns it.
type Entry struct {
	Path  string  `json:"path"`
	Size  int64   `json:"size"`
	Mode  string  `json:"mode"`
	Mtime float64 `json:"mtime"`
	Nlink uint64  `json:"nlink"`
	UID   string  `json:"uid"`
	GID   string  `json:"gid"`
}

func (s *Server) entry(abs string, fi fs.FileInfo) Entry {
	e := Entry{Path: abs, Size: fi.Size(), Mode: fi.Mode().String(), Mtime: float64(fi.ModTime().UnixNano()) / 1e9}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		e.Nlink = uint64(st.Nlink)
		e.UID = s.name('u', st.Uid)
		e.GID = s.name('g', st.Gid)
	}
	return e
}

// name returns the user or group name of an id, or the id itself.
func (s *Server) name(kind byte, id uint32) string {
	key := string(kind) + strconv.FormatUint(uint64(id), 10)
	s.mu.Lock()
	n, ok := s.names[key]
	s.mu.Unlock()
	if ok {
		return n
	}
	n = key[1:]
	if kind == 'u' {
		if u, err := user.LookupId(n); err == nil {
			n = u.Username
		}
	} else if g, err := user.LookupGroupId(n); err == nil {
		n = g.Name
	}
	s.mu.Lock()
	s.names[key] = n
	s.mu.Unlock()
	return n
}

func (s *Server) browse(w http.ResponseWriter, r *http.Request) error {
	rel, err := s.rel(r)
	if err != nil {
		return err
	}
	f, fi, err := s.open(rel)
	if err != nil {
		return err
	}
	defer f.Close()
	abs := filepath.Join(s.root, rel)
	out := []Entry{}
	if !fi.IsDir() {
		out = append(out, s.entry(abs, fi))
	} else {
		ents, err := f.ReadDir(-1)
		if err != nil {
			return fmt.Errorf("reading directory: %w", err)
		}
		for _, d := range ents {
			info, err := d.Info()
			if err != nil {
				continue // removed meanwhile
			}
			out = append(out, s.entry(filepath.Join(abs, d.Name()), info))
		}
	}
	return writeJSON(w, out)
}

// ReadResult is the body of /files/read.
type ReadResult struct {
	Data   string `json:"data"`
	Offset int64  `json:"offset"`
}

func (s *Server) read(w http.ResponseWriter, r *http.Request) error {
	rel, err := s.rel(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	offset, err := intParam(q.Get("offset"), -1)
	if err != nil || offset < -1 {
		return errorf(http.StatusBadRequest, "invalid 'offset': want an integer >= -1")
	}
	length, err := intParam(q.Get("length"), -1)
	if err != nil || length < -1 {
		return errorf(http.StatusBadRequest, "invalid 'length': want an integer >= -1")
	}
	f, fi, err := s.open(rel)
	if err != nil {
		return err
	}
	defer f.Close()
	if fi.IsDir() {
		return errorf(http.StatusBadRequest, "cannot read a directory")
	}
	size := fi.Size()
	// As in Mesos, offset -1 (the default) asks for the file's length.
	if offset == -1 {
		return writeJSON(w, ReadResult{Data: "", Offset: size})
	}
	if offset > size {
		offset = size
	}
	if length == -1 || length > MaxReadLength {
		length = min(size-offset, MaxReadLength)
	}
	buf := make([]byte, length)
	n, err := f.ReadAt(buf, offset)
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("reading: %w", err)
	}
	return writeJSON(w, ReadResult{Data: toValidUTF8(buf[:n]), Offset: offset})
}

// toValidUTF8 keeps JSON output valid for binary logs; invalid bytes
// become U+FFFD as JSON encoding would make them anyway.
func toValidUTF8(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	return strings.ToValidUTF8(string(b), "\uFFFD")
}

func (s *Server) download(w http.ResponseWriter, r *http.Request) error {
	rel, err := s.rel(r)
	if err != nil {
		return err
	}
	f, fi, err := s.open(rel)
	if err != nil {
		return err
	}
	defer f.Close()
	if fi.IsDir() {
		return errorf(http.StatusBadRequest, "cannot download a directory")
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", filepath.Base(rel)))
	http.ServeContent(w, r, "", fi.ModTime().Truncate(time.Second), f)
	return nil
}

func intParam(s string, def int64) (int64, error) {
	if s == "" {
		return def, nil
	}
	return strconv.ParseInt(s, 10, 64)
}

func writeJSON(w http.ResponseWriter, v any) error {
	w.Header().Set("Content-Type", "application/json")
	return json.NewEncoder(w).Encode(v)
}
