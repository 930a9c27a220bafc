package fetcher

import (
	"container/list"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

const (
	stagingPrefix = "staging-"
	entryPrefix   = "entry-"
)

// errNotCached says that an artifact cannot be kept in the cache (it is
// larger than the whole cache); the caller fetches it without.
var errNotCached = errors.New("artifact does not fit in the cache")

// cache keeps downloaded artifacts in dir, up to max bytes, evicting the
// least recently used. Its methods are safe for concurrent use; for each
// key at most one download runs, and callers asking meanwhile wait for
// it and share its outcome.
type cache struct {
	dir string
	max int64

	mu      sync.Mutex
	entries map[string]*entry
	lru     *list.List // of *entry, most recently used first; ready ones only
	used    int64
}

type entry struct {
	key  string
	file string
	size int64
	elem *list.Element
	// ready is closed when the download ends; err is its outcome.
	ready chan struct{}
	err   error
}

// newCache makes dir and removes the files an earlier cache left there.
func newCache(dir string, max int64) (*cache, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("cache dir: %w", err)
	}
	des, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("cache dir: %w", err)
	}
	for _, de := range des {
		if n := de.Name(); strings.HasPrefix(n, stagingPrefix) || strings.HasPrefix(n, entryPrefix) {
			os.Remove(filepath.Join(dir, n))
		}
	}
	return &cache{dir: dir, max: max, entries: map[string]*entry{}, lru: list.New()}, nil
}

func (c *cache) enabled() bool { return c.max > 0 }

// get returns the cached artifact of key, open at its start, downloading
// it with fill first if it is not there. A failed fill is returned to
// every caller waiting on it and is not kept: the next get tries again.
// errNotCached means the artifact is too big to cache.
func (c *cache) get(ctx context.Context, key string, fill func(ctx context.Context, w io.Writer) error) (*os.File, error) {
	for {
		f, again, err := c.wait(ctx, key)
		if !again {
			return f, err
		}
		c.mu.Lock()
		if _, ok := c.entries[key]; !ok {
			break // c.mu is held
		}
		c.mu.Unlock()
	}
	return c.fill(ctx, key, fill)
}

// wait waits for key's download, if there is one, and returns its file.
// again means there is none, or it was cancelled by its own caller's
// context, so that this caller should download.
func (c *cache) wait(ctx context.Context, key string) (f *os.File, again bool, err error) {
	c.mu.Lock()
	e, ok := c.entries[key]
	c.mu.Unlock()
	if !ok {
		return nil, true, nil
	}
	select {
	case <-e.ready:
	case <-ctx.Done():
		return nil, false, ctx.Err()
	}
	if e.err != nil {
		if errors.Is(e.err, context.Canceled) && ctx.Err() == nil {
			return nil, true, nil
		}
		return nil, false, e.err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries[key] != e {
		return nil, true, nil // evicted meanwhile
	}
	// Opened under the lock: eviction, which removes the file, also
	// holds it; an open file survives its removal.
	f, err = os.Open(e.file)
	if err != nil {
		return nil, false, err
	}
	c.lru.MoveToFront(e.elem)
	return f, false, nil
}

// fill downloads key's artifact into the cache; c.mu is held on entry
// and key has no entry.
func (c *cache) fill(ctx context.Context, key string, fill func(ctx context.Context, w io.Writer) error) (*os.File, error) {
	sum := sha256.Sum256([]byte(key))
	e := &entry{key: key, file: filepath.Join(c.dir, entryPrefix+hex.EncodeToString(sum[:])), ready: make(chan struct{})}
	c.entries[key] = e
	c.mu.Unlock()

	f, size, err := c.download(ctx, e.file, fill)

	c.mu.Lock()
	defer c.mu.Unlock()
	defer close(e.ready)
	if err == nil && size > c.max {
		err = errNotCached
		os.Remove(e.file)
	}
	if err != nil {
		e.err = err
		delete(c.entries, key)
		return nil, err
	}
	for c.used+size > c.max {
		old := c.lru.Back()
		if old == nil {
			break
		}
		c.evict(old.Value.(*entry))
	}
	e.size = size
	e.elem = c.lru.PushFront(e)
	c.used += size
	return f, nil
}

// evict removes e; c.mu is held.
func (c *cache) evict(e *entry) {
	c.lru.Remove(e.elem)
	delete(c.entries, e.key)
	c.used -= e.size
	os.Remove(e.file)
}

// download fills a staging file and renames it to file, returning it
// open at its start and its size.
func (c *cache) download(ctx context.Context, file string, fill func(ctx context.Context, w io.Writer) error) (*os.File, int64, error) {
	tmp, err := os.CreateTemp(c.dir, stagingPrefix+"*")
	if err != nil {
		return nil, 0, fmt.Errorf("cache: %w", err)
	}
	fail := func(err error) (*os.File, int64, error) {
		tmp.Close()
		os.Remove(tmp.Name())
		return nil, 0, err
	}
	if err := fill(ctx, tmp); err != nil {
		return fail(err)
	}
	size, err := tmp.Seek(0, io.SeekCurrent)
	if err != nil {
		return fail(err)
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return fail(err)
	}
	if err := os.Rename(tmp.Name(), file); err != nil {
		return fail(fmt.Errorf("cache: %w", err))
	}
	return tmp, size, nil
}
