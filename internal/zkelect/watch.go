package zkelect

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/go-zookeeper/zk"
)

// Leader is a leading member as seen in ZooKeeper.
type Leader struct {
	// Node is the member's full path, e.g. /corral/json.info_0000000003.
	Node string
	// Seq is its sequence number, 3 in the example.
	Seq int64
	// Data is the contender's info, as it gave it to NewElector.
	Data []byte
}

// observation is what a watcher saw under the base path.
type observation struct {
	members []string // names of the children, members or not
	leader  Leader
	known   bool // a member exists; leader is set
	// watch fires at the next change of the children, or at the creation
	// of the base path when it does not exist.
	watch <-chan zk.Event
	// stale is closed when the watch session's state changes: if it is no
	// longer live, watch will never fire.
	stale <-chan struct{}
}

// has reports whether node (a full path) is among the children seen.
func (o observation) has(base, node string) bool {
	for _, m := range o.members {
		if base+"/"+m == node {
			return true
		}
	}
	return false
}

// errStale is returned by watcher.observe without redial when the watch
// session is not live.
var errStale = errors.New("watch session not connected")

// watcher lists the members under a base path and watches them, on watch
// sessions (see sessionKind) that it replaces when their connection
// drops. It is used by one goroutine at a time.
type watcher struct {
	servers []string
	opts    Options
	base    string
	s       *session // nil before the first observe and after close
}

func newWatcher(u URL, o Options) *watcher {
	return &watcher{servers: u.Servers, opts: o, base: u.Path}
}

// observe lists the members with a watch and reads the leader's data. With
// redial, it first replaces a watch session that is gone and waits until
// one is live; without, it returns errStale unless the current one is live.
func (w *watcher) observe(ctx context.Context, redial bool) (observation, error) {
	for {
		if w.s == nil {
			if !redial {
				return observation{}, errStale
			}
			s, err := dial(w.servers, w.opts, watching)
			if err != nil {
				return observation{}, err
			}
			w.s = s
		}
		if redial {
			err := w.s.awaitLive(ctx)
			if errors.Is(err, errSessionGone) {
				w.close()
				continue
			}
			if err != nil {
				return observation{}, err
			}
		}
		// Taken while live, so that any later change closes it.
		stale := w.s.changes()
		if !w.s.live() {
			if redial {
				continue
			}
			return observation{}, errStale
		}
		obs, err := list(w.s.conn, w.base, w.opts.Prefix)
		obs.stale = stale
		return obs, err
	}
}

// close closes the watch session, if any.
func (w *watcher) close() {
	if w.s != nil {
		w.s.close()
		w.s = nil
	}
}

// list lists the children of base, leaving a watch on them, and reads the
// data of the lowest member. When base does not exist, the watch fires
// when it is created. A member that leaves between the listing and the
// read makes list look again.
func list(conn *zk.Conn, base, prefix string) (observation, error) {
	for {
		children, _, watch, err := conn.ChildrenW(base)
		if errors.Is(err, zk.ErrNoNode) {
			exists, _, watch, err := conn.ExistsW(base)
			if err != nil {
				return observation{}, fmt.Errorf("watching for %s: %w", base, err)
			}
			if exists {
				continue // created in between
			}
			return observation{watch: watch}, nil
		}
		if err != nil {
			return observation{}, fmt.Errorf("listing %s: %w", base, err)
		}
		obs := observation{members: children, watch: watch}
		name, seq, ok := lowest(children, prefix)
		if !ok {
			return obs, nil
		}
		node := base + "/" + name
		data, _, err := conn.Get(node)
		if errors.Is(err, zk.ErrNoNode) {
			continue
		}
		if err != nil {
			return observation{}, fmt.Errorf("reading %s: %w", node, err)
		}
		obs.leader, obs.known = Leader{Node: node, Seq: seq, Data: data}, true
		return obs, nil
	}
}

// board holds what an Elector or Detector last saw, for any goroutine to
// read, and tells waiters when it changes.
type board struct {
	mu      sync.Mutex
	leader  Leader
	known   bool
	leading bool
	changes chan struct{} // closed and replaced on every change
}

func newBoard() *board {
	return &board{changes: make(chan struct{})}
}

func (b *board) get() (Leader, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	l := b.leader
	l.Data = append([]byte(nil), l.Data...)
	return l, b.known
}

func (b *board) isLeading() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.leading
}

func (b *board) wait() <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.changes
}

// set records the leader; known false means there is none, or it is not
// known.
func (b *board) set(l Leader, known bool) {
	if !known {
		l = Leader{}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if known == b.known && l.Node == b.leader.Node && string(l.Data) == string(b.leader.Data) {
		return
	}
	b.leader, b.known = l, known
	b.notifyLocked()
}

func (b *board) setLeading(v bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.leading == v {
		return
	}
	b.leading = v
	b.notifyLocked()
}

func (b *board) notifyLocked() {
	close(b.changes)
	b.changes = make(chan struct{})
}
