package lead

import (
	"context"
	"log/slog"
	"time"

	"corral/internal/zkelect"
)

// ZK is an Election in ZooKeeper, with the znode layout of Apache Mesos:
// each instance is an ephemeral sequential member under the URL's path,
// and the oldest leads (see corral/internal/zkelect). Leadership ends
// before the instance's session can have expired (its connection down or
// unanswered for nearly a session timeout), the moment the session is
// known to have expired, or its member goes. A connection that drops and
// comes back to the same session sooner, as in a ZooKeeper ensemble's own
// leader election, does not end the term. Create it with NewZK.
type ZK struct {
	el    *zkelect.Elector
	parse func([]byte) (Member, error)
}

// ZKOptions tunes a ZK election. The zero value suits a framework.
type ZKOptions struct {
	// SessionTimeout is the ZooKeeper session timeout: how long a crashed
	// leader keeps the others waiting, and nearly how long a leader cut
	// off from ZooKeeper leads on. Zero means 10 s.
	SessionTimeout time.Duration
	// Prefix names the members, <prefix><sequence>: distinct per
	// component ("services_", "jobs_"), so that sharing a path never mixes
	// two elections. Empty means "json.info_", the masters'.
	Prefix string
	// Data is what this instance publishes; nil means EncodeMember(self).
	Data []byte
	// Parse reads a member's data; nil means DecodeMember. A member whose
	// data it refuses is not known as a leader.
	Parse func([]byte) (Member, error)
	// Logger receives the election's changes; nil discards them.
	Logger *slog.Logger
}

// NewZK returns the election that zkURL (a --zk flag:
// zk://host:port[,host:port...]/path) names, in which this instance is
// self. It does not connect; Run does. It fails only for a malformed URL.
func NewZK(zkURL string, self Member, o ZKOptions) (*ZK, error) {
	u, err := zkelect.ParseURL(zkURL)
	if err != nil {
		return nil, err
	}
	data := o.Data
	if data == nil {
		data = EncodeMember(self)
	}
	parse := o.Parse
	if parse == nil {
		parse = DecodeMember
	}
	el := zkelect.NewElector(u, data, zkelect.Options{SessionTimeout: o.SessionTimeout, Prefix: o.Prefix, Logger: o.Logger})
	return &ZK{el: el, parse: parse}, nil
}

// Run contends in ZooKeeper until ctx ends (see Election and
// zkelect.Elector.Run).
func (z *ZK) Run(ctx context.Context, lead func(context.Context)) error {
	return z.el.Run(ctx, lead)
}

// Leader returns the leading member as last seen, with the data it
// published.
func (z *ZK) Leader() (Member, bool) {
	l, ok := z.el.Leader()
	if !ok {
		return Member{}, false
	}
	m, err := z.parse(l.Data)
	if err != nil {
		return Member{}, false
	}
	m.Data = l.Data
	return m, true
}

// IsLeader reports whether this instance's lead is running with a live
// context.
func (z *ZK) IsLeader() bool { return z.el.IsLeader() }
