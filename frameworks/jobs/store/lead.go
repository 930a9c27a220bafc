package store

import (
	"context"

	"corral/internal/pglock"
)

// leaderLockKey is the Postgres advisory lock that one `corral jobs`
// process per database holds while it leads: "corraljb" in ASCII, chosen
// to stay clear of the keys golang-migrate derives from database names.
const leaderLockKey int64 = 0x636f7272616c6a62

// Leadership is held leadership: see pglock.Lock.
type Leadership = pglock.Lock

// ErrReleased is Leadership.Err after Release.
var ErrReleased = pglock.ErrReleased

// TryLead tries, without waiting, to become the leader among the processes
// sharing this database (pglock.Try on the jobs' lock key). It returns the
// Leadership and true if it got the lock, nil and false if another process
// leads, or an error if the database could not be asked.
//
// Until a lost leadership is noticed (about a second) two processes may
// both believe they lead, which is why every write that must happen once
// is made safe by the database itself (unique dedup keys, TransitionRun),
// not by leadership. Leadership only keeps the followers idle.
func (s *Store) TryLead(ctx context.Context) (*Leadership, bool, error) {
	return pglock.Try(ctx, s.pool.Config().ConnConfig, leaderLockKey)
}
