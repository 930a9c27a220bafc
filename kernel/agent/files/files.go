package files

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"mime"
	"net/http"
	"os"
	"os/user"
	"path/filepath"
	"slices"
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
	// Authorize, when set, decides whether r may reach the sandbox of
	// task of framework (both "" above the sandboxes, task "" at a
	// framework's level); an error is a 403 with its text. Set before the
	// server serves.
	Authorize func(r *http.Request, framework, task string) error
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
		// Sandbox bytes are the task's: never let a browser sniff them
		// into HTML.
		w.Header().Set("X-Content-Type-Options", "nosniff")
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

// SandboxDepth is how many directories below the root a sandbox lies: the
// agent lays sandboxes out as <root>/<framework>/<task>. A path that names
// something inside a sandbox is resolved inside that sandbox only.
const SandboxDepth = 2

// target reads the path parameter: it returns the path as the client gave
// it (for messages) and the same path relative to the root, clean and
// without "..". A path with a ".." element is refused outright: no client
// needs one, and refusing it keeps any later check on the path's prefix
// honest.
func (s *Server) target(r *http.Request) (given, rel string, err error) {
	p := r.URL.Query().Get("path")
	if p == "" {
		return "", "", errorf(http.StatusBadRequest, "missing 'path' query parameter")
	}
	if strings.ContainsRune(p, 0) {
		return "", "", errorf(http.StatusBadRequest, "invalid 'path': it contains a NUL byte")
	}
	if slices.Contains(strings.Split(p, "/"), "..") {
		return "", "", errorf(http.StatusForbidden, "path %q has a '..' element", p)
	}
	rel = filepath.Clean(p)
	if filepath.IsAbs(p) {
		// Component-wise: a sibling such as <root>2 is outside.
		rel, err = filepath.Rel(s.root, rel)
		if err != nil || !filepath.IsLocal(rel) {
			return "", "", errorf(http.StatusForbidden, "path %q is outside the sandboxes", p)
		}
	}
	if s.Authorize != nil {
		var fw, task string
		if parts := strings.Split(rel, string(filepath.Separator)); rel != "." {
			fw = parts[0]
			if len(parts) > 1 {
				task = parts[1]
			}
		}
		if err := s.Authorize(r, fw, task); err != nil {
			return "", "", errorf(http.StatusForbidden, "%v", err)
		}
	}
	return p, rel, nil
}

// within opens the os.Root that confines rel: the sandbox rel lies in, or
// the whole root for the levels above the sandboxes. It returns that root
// and rel's remainder inside it. Symlinks are then followed only inside
// the returned root, component by component on open descriptors (os.Root
// never lets the kernel follow one), so a link to another sandbox or out
// of the root is refused, without a race between a check and the open.
func (s *Server) within(given, rel string) (*os.Root, string, error) {
	top, err := os.OpenRoot(s.root)
	if err != nil {
		return nil, "", fmt.Errorf("opening sandbox root: %w", err)
	}
	parts := strings.Split(rel, string(filepath.Separator))
	if rel == "." || len(parts) <= SandboxDepth {
		return top, rel, nil
	}
	defer top.Close()
	sb, err := top.OpenRoot(filepath.Join(parts[:SandboxDepth]...))
	if err != nil {
		return nil, "", openError(given, err)
	}
	return sb, filepath.Join(parts[SandboxDepth:]...), nil
}

// openError maps an error from opening or stating given to a client error.
func openError(given string, err error) error {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return errorf(http.StatusNotFound, "path %q: no such file or directory", given)
	case errors.Is(err, syscall.ENOTDIR):
		return errorf(http.StatusNotFound, "path %q: a parent is not a directory", given)
	case errors.Is(err, fs.ErrPermission):
		return errorf(http.StatusForbidden, "path %q: permission denied", given)
	default: // above all a symlink leading out of its sandbox
		return &httpError{status: http.StatusForbidden, msg: fmt.Sprintf("path %q is not accessible: it leads outside its sandbox or cannot be opened", given), cause: err}
	}
}

// openRegular opens the regular file rel for verb ("read", "download") and
// returns it with its fstat. The open never blocks (O_NONBLOCK: a FIFO
// without a writer would otherwise hold the handler and its descriptor
// forever), and the type and link count are checked on the opened
// descriptor, so a path swapped after a check cannot slip through. Regular
// files ignore O_NONBLOCK, so reading needs no further change.
func (s *Server) openRegular(given, rel, verb string) (*os.File, fs.FileInfo, error) {
	root, name, err := s.within(given, rel)
	if err != nil {
		return nil, nil, err
	}
	defer root.Close()
	f, err := root.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		// open(2) fails on a socket (ENXIO) and on a device without a
		// driver; say what the path is rather than only that it failed.
		if fi, serr := root.Stat(name); serr == nil && !fi.Mode().IsRegular() {
			return nil, nil, notRegular(given, verb, fi.Mode())
		}
		return nil, nil, openError(given, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("fstat %s: %w", rel, err)
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, nil, notRegular(given, verb, fi.Mode())
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Nlink > 1 {
		f.Close()
		return nil, nil, errorf(http.StatusForbidden, "path %q has %d hard links; a file linked from outside the sandbox is not served", given, st.Nlink)
	}
	return f, fi, nil
}

func notRegular(given, verb string, m fs.FileMode) error {
	return errorf(http.StatusBadRequest, "path %q is a %s; only regular files can be %s", given, typeName(m), verb)
}

// typeName names the type of a file mode for messages.
func typeName(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "directory"
	case m&fs.ModeNamedPipe != 0:
		return "named pipe (FIFO)"
	case m&fs.ModeSocket != 0:
		return "socket"
	case m&fs.ModeCharDevice != 0:
		return "character device"
	case m&fs.ModeDevice != 0:
		return "block device"
	case m&fs.ModeSymlink != 0:
		return "symbolic link"
	case m.IsRegular():
		return "regular file"
	default:
		return "irregular file"
	}
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

// browse lists a directory, or describes one entry. Entries are lstat'ed
// through the directory's own descriptor: a symlink is described as
// itself, never by its target. A symlink named by the path is listed as
// its target only when that is a directory inside the same sandbox.
// Nothing is opened but directories, so a FIFO never blocks a listing.
func (s *Server) browse(w http.ResponseWriter, r *http.Request) error {
	given, rel, err := s.target(r)
	if err != nil {
		return err
	}
	root, name, err := s.within(given, rel)
	if err != nil {
		return err
	}
	defer root.Close()
	fi, err := root.Lstat(name)
	if err != nil {
		return openError(given, err)
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		if st, err := root.Stat(name); err == nil && st.IsDir() {
			fi = st
		}
	}
	abs := filepath.Join(s.root, rel)
	if !fi.IsDir() {
		return writeJSON(w, []Entry{s.entry(abs, fi)})
	}
	dir, err := root.OpenRoot(name) // O_DIRECTORY: a swapped-in FIFO fails at once
	if err != nil {
		return openError(given, err)
	}
	defer dir.Close()
	f, err := dir.Open(".")
	if err != nil {
		return openError(given, err)
	}
	names, err := f.Readdirnames(-1)
	f.Close()
	if err != nil {
		return fmt.Errorf("reading directory %s: %w", rel, err)
	}
	slices.Sort(names)
	out := make([]Entry, 0, len(names))
	for _, n := range names {
		info, err := dir.Lstat(n)
		if err != nil {
			continue // removed meanwhile
		}
		out = append(out, s.entry(filepath.Join(abs, n), info))
	}
	return writeJSON(w, out)
}

// ReadResult is the body of /files/read.
type ReadResult struct {
	Data   string `json:"data"`
	Offset int64  `json:"offset"`
}

func (s *Server) read(w http.ResponseWriter, r *http.Request) error {
	given, rel, err := s.target(r)
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
	f, fi, err := s.openRegular(given, rel, "read")
	if err != nil {
		return err
	}
	defer f.Close()
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

// download sends the file's bytes as an attachment, never as a type a
// browser would render.
func (s *Server) download(w http.ResponseWriter, r *http.Request) error {
	given, rel, err := s.target(r)
	if err != nil {
		return err
	}
	f, fi, err := s.openRegular(given, rel, "downloaded")
	if err != nil {
		return err
	}
	defer f.Close()
	w.Header().Set("Content-Type", "application/octet-stream")
	disp := mime.FormatMediaType("attachment", map[string]string{"filename": filepath.Base(rel)})
	if disp == "" {
		disp = "attachment"
	}
	w.Header().Set("Content-Disposition", disp)
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
