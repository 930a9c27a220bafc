package fetcher

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"corral/kernel/mesos"
)

// Config configures a Fetcher. Zero values take the defaults named.
type Config struct {
	// CacheDir holds cached artifacts and the staging files of downloads.
	// Required. Files the fetcher left there (and only those) are removed
	// by New.
	CacheDir string
	// CacheSize bounds the bytes of cached artifacts; the least recently
	// used are evicted to make room. 0 disables the cache: cache: true is
	// then ignored, as in Mesos.
	CacheSize int64
	// Client fetches http and https URIs. It must not carry the agent's
	// own credentials, which an artifact server must never see. Default:
	// a client with a proxy from the environment.
	Client *http.Client
	// Timeout bounds the fetch of one URI. Default 30 minutes.
	Timeout time.Duration
	// StallTimeout aborts a download that receives nothing for this long
	// (Mesos' --fetcher_stall_timeout). Default 1 minute.
	StallTimeout time.Duration
	// MaxSize bounds the bytes of one artifact, and separately the bytes
	// unpacked from one archive. Default 8 GiB.
	MaxSize int64
	// Logger, default discard.
	Logger *slog.Logger
}

// Owner is who the files fetched for a task belong to: the task's user.
type Owner struct {
	UID, GID int
	// Groups are the user's supplementary groups, used to decide whether
	// the user may read a local file.
	Groups []uint32
}

// Fetcher fetches artifacts into sandboxes. It is safe for concurrent use
// by many launches; a cached URI is downloaded once at a time.
type Fetcher struct {
	cfg   Config
	log   *slog.Logger
	cache *cache
	euid  int
}

// New prepares cfg.CacheDir (creating it and removing what an earlier
// fetcher left there) and returns a Fetcher.
func New(cfg Config) (*Fetcher, error) {
	if cfg.CacheDir == "" {
		return nil, errors.New("fetcher: cache dir is required")
	}
	if cfg.CacheSize < 0 {
		return nil, fmt.Errorf("fetcher: cache size %d is negative", cfg.CacheSize)
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Transport: &http.Transport{Proxy: http.ProxyFromEnvironment}}
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Minute
	}
	if cfg.StallTimeout <= 0 {
		cfg.StallTimeout = time.Minute
	}
	if cfg.MaxSize <= 0 {
		cfg.MaxSize = 8 << 30
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	c, err := newCache(cfg.CacheDir, cfg.CacheSize)
	if err != nil {
		return nil, fmt.Errorf("fetcher: %w", err)
	}
	return &Fetcher{cfg: cfg, log: cfg.Logger.With("component", "fetcher"), cache: c, euid: os.Geteuid()}, nil
}

// Error is a failed fetch: which URI, and why.
type Error struct {
	URI string
	Err error
}

func (e *Error) Error() string { return fmt.Sprintf("fetching %q: %v", e.URI, e.Err) }
func (e *Error) Unwrap() error { return e.Err }

// Fetch fetches uris, in order, into sandbox, an existing directory. Each
// file and directory it makes is given to owner; a nil owner means the
// agent's own user. It stops at the first failure, returned as an *Error
// naming the URI; what was fetched before stays.
func (f *Fetcher) Fetch(ctx context.Context, sandbox string, uris []mesos.CommandURI, owner *Owner) error {
	if owner != nil && owner.UID == f.euid {
		owner = nil
	}
	root, err := os.OpenRoot(sandbox)
	if err != nil {
		return fmt.Errorf("opening sandbox: %w", err)
	}
	defer root.Close()
	for _, u := range uris {
		if err := f.fetchOne(ctx, root, u, owner); err != nil {
			return &Error{URI: u.Value, Err: err}
		}
	}
	return nil
}

func (f *Fetcher) fetchOne(ctx context.Context, root *os.Root, u mesos.CommandURI, owner *Owner) error {
	loc, err := mesos.Locate(u.Value)
	if err != nil {
		return err
	}
	out, err := u.OutputPath()
	if err != nil {
		return fmt.Errorf("output_file: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, f.cfg.Timeout)
	defer cancel()
	if loc.Source == mesos.SourceFile && owner != nil {
		if err := readableBy(loc.URL, owner); err != nil {
			return err
		}
	}
	var src *os.File
	cached := u.IsCache() && f.cache.enabled()
	if cached {
		src, err = f.cache.get(ctx, cacheKey(owner, loc.URL), func(ctx context.Context, w io.Writer) error {
			return f.download(ctx, loc, w)
		})
		if errors.Is(err, errNotCached) {
			cached = false
		} else if err != nil {
			return err
		}
	}
	if !cached {
		src, err = f.stage(ctx, loc)
		if err != nil {
			return err
		}
	}
	defer src.Close()
	in := &installer{root: root, limit: f.cfg.MaxSize}
	err = in.install(src, out, u, !cached)
	if owner != nil {
		for _, p := range in.made {
			if cerr := root.Lchown(p, owner.UID, owner.GID); cerr != nil && err == nil {
				err = fmt.Errorf("giving %s to the task's user: %w", p, cerr)
			}
		}
	}
	if err == nil {
		f.log.Debug("fetched", "uri", u.Value, "output", out, "cached", cached)
	}
	return err
}

// stage downloads loc to an unlinked temporary file, returned open at its
// start.
func (f *Fetcher) stage(ctx context.Context, loc mesos.Location) (*os.File, error) {
	tmp, err := os.CreateTemp(f.cache.dir, stagingPrefix+"*")
	if err != nil {
		return nil, fmt.Errorf("staging: %w", err)
	}
	os.Remove(tmp.Name())
	if err := f.download(ctx, loc, tmp); err != nil {
		tmp.Close()
		return nil, err
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		tmp.Close()
		return nil, err
	}
	return tmp, nil
}

// cacheKey is Mesos' cache key: the user and the URI, so that a local file
// one user may read is never handed to another from the cache.
func cacheKey(owner *Owner, url string) string {
	uid := -1
	if owner != nil {
		uid = owner.UID
	}
	return fmt.Sprintf("%d\x00%s", uid, url)
}

// readableBy reports whether owner may read the regular file p, as the
// permission bits of p and of every directory above it say. (ACLs are not
// consulted, so a file readable only through one is refused.)
func readableBy(p string, o *Owner) error {
	can := func(fi os.FileInfo, bits os.FileMode) bool {
		uid, gid := statIDs(fi)
		m := fi.Mode().Perm()
		switch {
		case uid == o.UID:
			return m&(bits<<6) != 0
		case gid == o.GID || inGroups(gid, o.Groups):
			return m&(bits<<3) != 0
		default:
			return m&bits != 0
		}
	}
	for d := filepath.Dir(p); ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			return err
		}
		if !can(fi, 1) {
			return fmt.Errorf("the task's user may not enter %s", d)
		}
		if d == "/" {
			break
		}
	}
	fi, err := os.Stat(p)
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", p)
	}
	if !can(fi, 4) {
		return fmt.Errorf("the task's user may not read %s", p)
	}
	return nil
}

func inGroups(gid int, groups []uint32) bool {
	for _, g := range groups {
		if int(g) == gid {
			return true
		}
	}
	return false
}
