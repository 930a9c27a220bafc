package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"corral/internal/lead"
	"corral/internal/pg"
)

// ErrNotFound is returned (wrapped) when a record asked for does not exist
// (the value all stores share).
var ErrNotFound = pg.ErrNotFound

// ErrInvalid is returned (wrapped) when an argument cannot be stored, before
// the database is asked. Retrying such a call cannot succeed.
var ErrInvalid = pg.ErrInvalid

// Store is the registry on a Postgres connection pool. It is safe for
// concurrent use. Methods take ctx first and honor its deadline.
//
// After BeginTerm, every write checks in its transaction that no later
// kernel term has begun, and fails with lead.ErrFenced if one has (see
// lead.Fence, on kernel.term): a deposed master's writes never land. A
// Store that never began a term writes unchecked.
type Store struct {
	pool  *pgxpool.Pool
	fence *lead.Fence
}

// BeginTerm starts a new kernel term for this Store's master and returns
// its epoch: from then on the writes of every earlier term fail with
// lead.ErrFenced, and so will this Store's once another master begins a
// term. It waits for writes in flight under earlier terms to commit. Call
// it on taking over, before reading the registry.
func (s *Store) BeginTerm(ctx context.Context) (int64, error) {
	return s.fence.Begin(ctx, s.pool)
}

// Fence is the Store's term: its Context ends once a write was refused.
func (s *Store) Fence() *lead.Fence { return s.fence }

// exec runs one write statement on the pool, or, once a term has begun,
// in a transaction that first checks the term.
func (s *Store) exec(ctx context.Context, sql string, args ...any) error {
	if s.fence.Epoch() == 0 {
		_, err := s.pool.Exec(ctx, sql, args...)
		return err
	}
	return pg.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		if err := s.fence.Check(ctx, tx); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, sql, args...)
		return err
	})
}

// Open returns a Store for the database at dbURL (postgres://…), whose schema
// must have been migrated (corral/internal/migrate). It does not connect:
// connections are made when a call needs one, so Open fails only for a
// malformed URL, and a database that is down at Open is not an error (Ping
// tells). The caller must Close the store.
func Open(ctx context.Context, dbURL string) (*Store, error) {
	pool, err := pg.Open(ctx, dbURL)
	if err != nil {
		return nil, err
	}
	return &Store{pool: pool, fence: lead.NewFence("kernel")}, nil
}

// Close closes every connection, waiting for those in use to be released.
// The store must not be used afterwards.
func (s *Store) Close() {
	s.pool.Close()
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	return pg.Ping(ctx, s.pool, "registry")
}

// AgentState is where an agent stands in the registry.
type AgentState string

// The agent states; see the package documentation for the transitions.
const (
	AgentAdmitted    AgentState = "admitted"
	AgentUnreachable AgentState = "unreachable"
	AgentGone        AgentState = "gone"
)

// String returns the state as stored.
func (st AgentState) String() string { return string(st) }

// Agent is an agent's registry record.
type Agent struct {
	ID       string
	Hostname string
	// Info is the agent's info as the master recorded it (a JSON object).
	// Postgres stores it as jsonb, so it comes back normalized: same value,
	// not necessarily the same bytes.
	Info             json.RawMessage
	State            AgentState
	RegisteredAt     time.Time  // first admission
	UpdatedAt        time.Time  // last change of this record
	UnreachableSince *time.Time // set while unreachable (and kept once gone)
	// Deactivated agents get no offers; Drain is their drain (JSON, nil
	// when none): see SetAgentDrain.
	Deactivated bool
	Drain       json.RawMessage
}

// Agents returns every agent record, ordered by ID.
func (s *Store) Agents(ctx context.Context) ([]Agent, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT id, hostname, info, state, registered_at, updated_at, unreachable_since, deactivated, drain
		FROM kernel.agents ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("listing agents: %w", err)
	}
	agents, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Agent, error) {
		var a Agent
		var info, drain []byte
		var state string
		err := row.Scan(&a.ID, &a.Hostname, &info, &state, &a.RegisteredAt, &a.UpdatedAt, &a.UnreachableSince, &a.Deactivated, &drain)
		a.Info, a.State = json.RawMessage(info), AgentState(state)
		if drain != nil {
			a.Drain = json.RawMessage(drain)
		}
		a.RegisteredAt, a.UpdatedAt, a.UnreachableSince = a.RegisteredAt.UTC(), a.UpdatedAt.UTC(), utcPtr(a.UnreachableSince)
		return a, err
	})
	if err != nil {
		return nil, fmt.Errorf("listing agents: %w", err)
	}
	return agents, nil
}

// AdmitAgent records agent id as admitted with the given hostname and info,
// creating it or updating it (whatever its state) and clearing
// UnreachableSince. RegisteredAt keeps the first admission's time. It is
// idempotent.
func (s *Store) AdmitAgent(ctx context.Context, id, hostname string, info json.RawMessage) error {
	if err := validID("agent", id); err != nil {
		return fmt.Errorf("admitting agent: %w", err)
	}
	if err := validInfo(info); err != nil {
		return fmt.Errorf("admitting agent %q: %w", id, err)
	}
	err := s.exec(ctx, `
		INSERT INTO kernel.agents (id, hostname, info, state)
		VALUES ($1, $2, $3, 'admitted')
		ON CONFLICT (id) DO UPDATE SET
			hostname = excluded.hostname,
			info = excluded.info,
			state = 'admitted',
			updated_at = now(),
			unreachable_since = NULL`,
		id, hostname, string(info))
	if err != nil {
		return fmt.Errorf("admitting agent %q: %w", id, err)
	}
	return nil
}

// MarkAgentUnreachable records that agent id stopped answering at at. If it
// is already unreachable, the earlier time is kept, so that repeating the
// call (a retry, a new master) does not restart the clock. A gone agent stays
// gone, and an unknown id is ignored: the call is idempotent and safe to
// retry.
func (s *Store) MarkAgentUnreachable(ctx context.Context, id string, at time.Time) error {
	err := s.exec(ctx, `
		UPDATE kernel.agents SET
			state = 'unreachable',
			unreachable_since = $2,
			updated_at = now()
		WHERE id = $1 AND state = 'admitted'`,
		id, at)
	if err != nil {
		return fmt.Errorf("marking agent %q unreachable: %w", id, err)
	}
	return nil
}

// SetAgentDrain records agent id's deactivation and drain (a JSON value,
// or nil for none). An unknown id is ignored; the call is idempotent.
func (s *Store) SetAgentDrain(ctx context.Context, id string, deactivated bool, drain json.RawMessage) error {
	var d any
	if drain != nil {
		if err := validInfo(drain); err != nil {
			return fmt.Errorf("recording the drain of agent %q: %w", id, err)
		}
		d = string(drain)
	}
	if err := s.exec(ctx, `UPDATE kernel.agents SET deactivated = $2, drain = $3, updated_at = now() WHERE id = $1`, id, deactivated, d); err != nil {
		return fmt.Errorf("recording the drain of agent %q: %w", id, err)
	}
	return nil
}

// MarkAgentGone records that agent id will not come back (until it is
// admitted again). An unknown id is ignored; the call is idempotent.
func (s *Store) MarkAgentGone(ctx context.Context, id string) error {
	err := s.exec(ctx, `
		UPDATE kernel.agents SET state = 'gone', updated_at = now()
		WHERE id = $1 AND state <> 'gone'`,
		id)
	if err != nil {
		return fmt.Errorf("marking agent %q gone: %w", id, err)
	}
	return nil
}

// RemoveAgent deletes agent id's record. Removing an unknown id is not an
// error.
func (s *Store) RemoveAgent(ctx context.Context, id string) error {
	if err := s.exec(ctx, `DELETE FROM kernel.agents WHERE id = $1`, id); err != nil {
		return fmt.Errorf("removing agent %q: %w", id, err)
	}
	return nil
}

// FrameworkState is where a framework stands in the registry.
type FrameworkState string

// The framework states. The master decides the transitions.
const (
	FrameworkActive       FrameworkState = "active"
	FrameworkDisconnected FrameworkState = "disconnected"
	FrameworkRemoved      FrameworkState = "removed"
)

// String returns the state as stored.
func (st FrameworkState) String() string { return string(st) }

func (st FrameworkState) valid() bool {
	switch st {
	case FrameworkActive, FrameworkDisconnected, FrameworkRemoved:
		return true
	}
	return false
}

// Framework is a framework's registry record.
type Framework struct {
	ID string
	// Info is the framework's info as the master recorded it (a JSON
	// object), normalized by jsonb like Agent.Info.
	Info            json.RawMessage
	State           FrameworkState
	FailoverTimeout time.Duration // stored in seconds, to the microsecond
	DisconnectedAt  *time.Time
	RemovedAt       *time.Time
	// RegisteredAt is the first subscription. PutFramework with a zero value
	// uses the database's clock for a new record and keeps the stored time
	// for an existing one.
	RegisteredAt time.Time
}

// Frameworks returns every framework record, removed ones included, ordered
// by ID.
func (s *Store) Frameworks(ctx context.Context) ([]Framework, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT id, info, state, failover_timeout_seconds, disconnected_at, removed_at, registered_at
		FROM kernel.frameworks ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("listing frameworks: %w", err)
	}
	fws, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Framework, error) {
		var f Framework
		var info []byte
		var state string
		var failover float64
		err := row.Scan(&f.ID, &info, &state, &failover, &f.DisconnectedAt, &f.RemovedAt, &f.RegisteredAt)
		f.Info, f.State = json.RawMessage(info), FrameworkState(state)
		f.FailoverTimeout = secondsToDuration(failover)
		f.DisconnectedAt, f.RemovedAt, f.RegisteredAt = utcPtr(f.DisconnectedAt), utcPtr(f.RemovedAt), f.RegisteredAt.UTC()
		return f, err
	})
	if err != nil {
		return nil, fmt.Errorf("listing frameworks: %w", err)
	}
	return fws, nil
}

// PutFramework writes f's record whole, creating or replacing it (see
// Framework.RegisteredAt for the one field that is kept). It is idempotent.
func (s *Store) PutFramework(ctx context.Context, f Framework) error {
	if err := validID("framework", f.ID); err != nil {
		return fmt.Errorf("storing framework: %w", err)
	}
	if err := validInfo(f.Info); err != nil {
		return fmt.Errorf("storing framework %q: %w", f.ID, err)
	}
	if !f.State.valid() {
		return fmt.Errorf("storing framework %q: state %q: %w", f.ID, f.State, ErrInvalid)
	}
	if f.FailoverTimeout < 0 {
		return fmt.Errorf("storing framework %q: negative failover timeout %v: %w", f.ID, f.FailoverTimeout, ErrInvalid)
	}
	var registeredAt *time.Time
	if !f.RegisteredAt.IsZero() {
		registeredAt = &f.RegisteredAt
	}
	err := s.exec(ctx, `
		INSERT INTO kernel.frameworks
			(id, info, state, failover_timeout_seconds, disconnected_at, removed_at, registered_at)
		VALUES ($1, $2, $3, $4, $5, $6, coalesce($7, now()))
		ON CONFLICT (id) DO UPDATE SET
			info = excluded.info,
			state = excluded.state,
			failover_timeout_seconds = excluded.failover_timeout_seconds,
			disconnected_at = excluded.disconnected_at,
			removed_at = excluded.removed_at,
			registered_at = coalesce($7, kernel.frameworks.registered_at)`,
		f.ID, string(f.Info), string(f.State), f.FailoverTimeout.Seconds(), f.DisconnectedAt, f.RemovedAt, registeredAt)
	if err != nil {
		return fmt.Errorf("storing framework %q: %w", f.ID, err)
	}
	return nil
}

// Weights returns the operator-set weight of every role that has one.
func (s *Store) Weights(ctx context.Context) (map[string]float64, error) {
	rows, err := s.pool.Query(ctx, `SELECT role, weight FROM kernel.weights`)
	if err != nil {
		return nil, fmt.Errorf("listing weights: %w", err)
	}
	defer rows.Close()
	weights := map[string]float64{}
	for rows.Next() {
		var role string
		var w float64
		if err := rows.Scan(&role, &w); err != nil {
			return nil, fmt.Errorf("listing weights: %w", err)
		}
		weights[role] = w
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing weights: %w", err)
	}
	return weights, nil
}

// SetWeight sets role's weight, which must be a finite number above zero.
// It is idempotent.
func (s *Store) SetWeight(ctx context.Context, role string, w float64) error {
	if role == "" {
		return fmt.Errorf("setting weight: empty role: %w", ErrInvalid)
	}
	if !(w > 0) || math.IsInf(w, 0) {
		return fmt.Errorf("setting weight of role %q to %v: must be finite and > 0: %w", role, w, ErrInvalid)
	}
	err := s.exec(ctx, `
		INSERT INTO kernel.weights (role, weight) VALUES ($1, $2)
		ON CONFLICT (role) DO UPDATE SET weight = excluded.weight`,
		role, w)
	if err != nil {
		return fmt.Errorf("setting weight of role %q: %w", role, err)
	}
	return nil
}

// SetMaster records info (a JSON object) as the leading master, elected at
// at, replacing the previous one.
func (s *Store) SetMaster(ctx context.Context, info json.RawMessage, at time.Time) error {
	if err := validInfo(info); err != nil {
		return fmt.Errorf("recording master: %w", err)
	}
	err := s.exec(ctx, `
		INSERT INTO kernel.master (singleton, info, elected_at) VALUES (true, $1, $2)
		ON CONFLICT (singleton) DO UPDATE SET info = excluded.info, elected_at = excluded.elected_at`,
		string(info), at)
	if err != nil {
		return fmt.Errorf("recording master: %w", err)
	}
	return nil
}

// Master returns the info of the most recently recorded leading master and
// when it was elected, or an error wrapping ErrNotFound if none was.
func (s *Store) Master(ctx context.Context) (info json.RawMessage, electedAt time.Time, err error) {
	var raw []byte
	err = s.pool.QueryRow(ctx, `SELECT info, elected_at FROM kernel.master`).Scan(&raw, &electedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, time.Time{}, fmt.Errorf("reading master: %w", ErrNotFound)
	}
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("reading master: %w", err)
	}
	return json.RawMessage(raw), electedAt.UTC(), nil
}

func validID(kind, id string) error {
	if id == "" {
		return fmt.Errorf("empty %s id: %w", kind, ErrInvalid)
	}
	return nil
}

func validInfo(info json.RawMessage) error {
	if len(info) == 0 || !json.Valid(info) {
		return fmt.Errorf("info is not valid JSON: %w", ErrInvalid)
	}
	return nil
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// secondsToDuration converts stored seconds back, rounding to the
// microsecond so that a duration survives the float round trip.
func secondsToDuration(s float64) time.Duration {
	return (time.Duration(math.Round(s*1e6)) * time.Microsecond)
}

// Permanent reports whether err is one that retrying cannot cure: an
// argument refused before reaching the database (ErrInvalid), a write of
// a deposed master (lead.ErrFenced), or a data or integrity error raised
// by Postgres (SQLSTATE classes 22 and 23). Other errors (connection
// refused, timeouts, a restarting server) are transient.
func Permanent(err error) bool {
	if errors.Is(err, ErrInvalid) || errors.Is(err, lead.ErrFenced) {
		return true
	}
	return pg.DataError(err)
}

// Quota is a role's quota as the registry keeps it: scalar resource name
// to amount.
type Quota struct {
	Guarantees map[string]float64
	Limits     map[string]float64
}

// Quotas returns every role's quota.
func (s *Store) Quotas(ctx context.Context) (map[string]Quota, error) {
	rows, err := s.pool.Query(ctx, `SELECT role, guarantees, limits FROM kernel.quotas`)
	if err != nil {
		return nil, fmt.Errorf("listing quotas: %w", err)
	}
	defer rows.Close()
	out := map[string]Quota{}
	for rows.Next() {
		var role string
		var g, l []byte
		if err := rows.Scan(&role, &g, &l); err != nil {
			return nil, fmt.Errorf("listing quotas: %w", err)
		}
		var q Quota
		if err := json.Unmarshal(g, &q.Guarantees); err != nil {
			return nil, fmt.Errorf("quota of role %q: %w", role, err)
		}
		if err := json.Unmarshal(l, &q.Limits); err != nil {
			return nil, fmt.Errorf("quota of role %q: %w", role, err)
		}
		out[role] = q
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing quotas: %w", err)
	}
	return out, nil
}

// SetQuota records role's quota; one with no guarantee and no limit is
// removed. It is idempotent.
func (s *Store) SetQuota(ctx context.Context, role string, q Quota) error {
	if role == "" {
		return fmt.Errorf("storing a quota: empty role: %w", ErrInvalid)
	}
	if len(q.Guarantees) == 0 && len(q.Limits) == 0 {
		if err := s.exec(ctx, `DELETE FROM kernel.quotas WHERE role = $1`, role); err != nil {
			return fmt.Errorf("removing the quota of role %q: %w", role, err)
		}
		return nil
	}
	g, _ := json.Marshal(orEmpty(q.Guarantees))
	l, _ := json.Marshal(orEmpty(q.Limits))
	err := s.exec(ctx, `
		INSERT INTO kernel.quotas (role, guarantees, limits) VALUES ($1, $2, $3)
		ON CONFLICT (role) DO UPDATE SET guarantees = excluded.guarantees, limits = excluded.limits`,
		role, string(g), string(l))
	if err != nil {
		return fmt.Errorf("storing the quota of role %q: %w", role, err)
	}
	return nil
}

func orEmpty(m map[string]float64) map[string]float64 {
	if m == nil {
		return map[string]float64{}
	}
	return m
}

// Maintenance returns the maintenance document (the schedule and the
// machines DOWN) as stored, nil when none was ever stored.
func (s *Store) Maintenance(ctx context.Context) (json.RawMessage, error) {
	var doc []byte
	err := s.pool.QueryRow(ctx, `SELECT doc FROM kernel.maintenance`).Scan(&doc)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the maintenance schedule: %w", err)
	}
	return doc, nil
}

// SetMaintenance replaces the maintenance document. It is idempotent.
func (s *Store) SetMaintenance(ctx context.Context, doc json.RawMessage) error {
	if !json.Valid(doc) {
		return fmt.Errorf("storing the maintenance schedule: not JSON: %w", ErrInvalid)
	}
	err := s.exec(ctx, `
		INSERT INTO kernel.maintenance (singleton, doc) VALUES (true, $1)
		ON CONFLICT (singleton) DO UPDATE SET doc = excluded.doc`, string(doc))
	if err != nil {
		return fmt.Errorf("storing the maintenance schedule: %w", err)
	}
	return nil
}
