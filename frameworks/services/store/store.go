package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
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

// Store is the services state on a Postgres connection pool. It is safe for
// concurrent use. Methods take ctx first and honor its deadline.
//
// After BeginTerm, every write checks in its transaction that no later
// services term has begun, and fails with lead.ErrFenced if one has (see
// lead.Fence): a deposed leader's writes never land. A Store that never
// began a term writes unchecked.
type Store struct {
	pool  *pgxpool.Pool
	fence *lead.Fence
}

// ErrFenced is returned (wrapped) by a write of a Store whose term has
// ended: another services instance began a term since (lead.ErrFenced).
var ErrFenced = lead.ErrFenced

// querier is what the statements need; both the pool and a transaction
// provide it.
type querier = pg.Querier

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
	return &Store{pool: pool, fence: lead.NewFence("services")}, nil
}

// Close closes every connection, waiting for those in use to be released.
// The store must not be used afterwards.
func (s *Store) Close() {
	s.pool.Close()
}

// BeginTerm starts a new services term for this Store's instance and
// returns its epoch: from then on the writes of every earlier term fail
// with ErrFenced, and so will this Store's once another instance begins a
// term. It waits for writes in flight under earlier terms to commit. Call
// it on taking over, before reading the state.
func (s *Store) BeginTerm(ctx context.Context) (int64, error) {
	return s.fence.Begin(ctx, s.pool)
}

// Fence is the Store's term: its Context ends once a write was refused.
func (s *Store) Fence() *lead.Fence { return s.fence }

// write runs one write on the pool, or, once a term has begun, in a
// transaction that first checks the term.
func (s *Store) write(ctx context.Context, fn func(q querier) error) error {
	if s.fence.Epoch() == 0 {
		return fn(s.pool)
	}
	return s.Atomically(ctx, func(tx *Tx) error { return fn(tx.tx) })
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	return pg.Ping(ctx, s.pool, "services")
}

// Atomically runs fn in one transaction: every write fn makes through tx is
// committed together when fn returns nil, and none is when fn returns an
// error or panics. Atomically returns fn's error as is, or an error from
// beginning or committing the transaction (a failed commit means nothing
// was written). tx must not be used after fn returns, nor by several
// goroutines at once. Atomically does not retry. Once a term has begun,
// the transaction first checks it (ErrFenced).
func (s *Store) Atomically(ctx context.Context, fn func(tx *Tx) error) error {
	return pg.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		if err := s.fence.Check(ctx, tx); err != nil {
			return err
		}
		return fn(&Tx{tx: tx})
	})
}

// Tx is a transaction given to the function passed to Store.Atomically. Its
// methods write like the Store methods of the same names, and their writes
// take effect only when that function returns nil.
type Tx struct {
	tx pgx.Tx
}

// FrameworkID returns the stored framework id, or "" if none was stored.
func (s *Store) FrameworkID(ctx context.Context) (string, error) {
	var id string
	err := s.pool.QueryRow(ctx, `SELECT framework_id FROM services.framework`).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("reading framework id: %w", err)
	}
	return id, nil
}

// SetFrameworkID stores id (not empty) as the framework id, replacing any
// previous one. It is idempotent.
func (s *Store) SetFrameworkID(ctx context.Context, id string) error {
	return s.write(ctx, func(q querier) error { return setFrameworkID(ctx, q, id) })
}

// SetFrameworkID is Store.SetFrameworkID within the transaction.
func (t *Tx) SetFrameworkID(ctx context.Context, id string) error {
	return setFrameworkID(ctx, t.tx, id)
}

func setFrameworkID(ctx context.Context, q querier, id string) error {
	if id == "" {
		return fmt.Errorf("storing framework id: empty id: %w", ErrInvalid)
	}
	_, err := q.Exec(ctx, `
		INSERT INTO services.framework (singleton, framework_id) VALUES (true, $1)
		ON CONFLICT (singleton) DO UPDATE SET framework_id = excluded.framework_id, updated_at = now()`,
		id)
	if err != nil {
		return fmt.Errorf("storing framework id: %w", err)
	}
	return nil
}

// AppRecord is an app's current definition.
type AppRecord struct {
	ID      string
	Version string
	// Spec is the app definition as the framework stored it (a JSON object,
	// normalized by jsonb).
	Spec      json.RawMessage
	CreatedAt time.Time // first PutApp of this id
	UpdatedAt time.Time // last PutApp that changed the version or spec
}

const appColumns = `id, version, spec, created_at, updated_at`

func scanApp(row pgx.CollectableRow) (AppRecord, error) {
	var a AppRecord
	var spec []byte
	err := row.Scan(&a.ID, &a.Version, &spec, &a.CreatedAt, &a.UpdatedAt)
	a.Spec, a.CreatedAt, a.UpdatedAt = json.RawMessage(spec), a.CreatedAt.UTC(), a.UpdatedAt.UTC()
	return a, err
}

// Apps returns the current definition of every app, ordered by ID.
func (s *Store) Apps(ctx context.Context) ([]AppRecord, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+appColumns+` FROM services.apps ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("listing apps: %w", err)
	}
	apps, err := pgx.CollectRows(rows, scanApp)
	if err != nil {
		return nil, fmt.Errorf("listing apps: %w", err)
	}
	return apps, nil
}

// App returns app id's current definition, or an error wrapping ErrNotFound.
func (s *Store) App(ctx context.Context, id string) (AppRecord, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+appColumns+` FROM services.apps WHERE id = $1`, id)
	if err != nil {
		return AppRecord{}, fmt.Errorf("reading app %q: %w", id, err)
	}
	a, err := pgx.CollectExactlyOneRow(rows, scanApp)
	if errors.Is(err, pgx.ErrNoRows) {
		return AppRecord{}, fmt.Errorf("reading app %q: %w", id, ErrNotFound)
	}
	if err != nil {
		return AppRecord{}, fmt.Errorf("reading app %q: %w", id, err)
	}
	return a, nil
}

// PutApp makes spec, at version, app id's current definition (creating the
// app or replacing its definition) and records it as that version, both or
// neither. Storing a version again replaces that version's spec, so the
// current definition and its version record never disagree; repeating a
// call is harmless and does not move UpdatedAt.
func (s *Store) PutApp(ctx context.Context, id, version string, spec json.RawMessage) error {
	return s.write(ctx, func(q querier) error { return putApp(ctx, q, id, version, spec) })
}

// PutApp is Store.PutApp within the transaction.
func (t *Tx) PutApp(ctx context.Context, id, version string, spec json.RawMessage) error {
	return putApp(ctx, t.tx, id, version, spec)
}

func putApp(ctx context.Context, q querier, id, version string, spec json.RawMessage) error {
	if err := validID("app", id); err != nil {
		return fmt.Errorf("storing app: %w", err)
	}
	if version == "" {
		return fmt.Errorf("storing app %q: empty version: %w", id, ErrInvalid)
	}
	if err := validSpec(spec); err != nil {
		return fmt.Errorf("storing app %q: %w", id, err)
	}
	// One statement, so one transaction, whether or not q is a Tx.
	_, err := q.Exec(ctx, `
		WITH version AS (
			INSERT INTO services.app_versions (app_id, version, spec) VALUES ($1, $2, $3)
			ON CONFLICT (app_id, version) DO UPDATE SET spec = excluded.spec
		)
		INSERT INTO services.apps (id, version, spec) VALUES ($1, $2, $3)
		ON CONFLICT (id) DO UPDATE SET
			version = excluded.version,
			spec = excluded.spec,
			updated_at = now()
		WHERE services.apps.version <> excluded.version OR services.apps.spec <> excluded.spec`,
		id, version, string(spec))
	if err != nil {
		return fmt.Errorf("storing app %q version %q: %w", id, version, err)
	}
	return nil
}

// DeleteApp deletes app id and all its versions. Its instances and launch
// delay are the caller's to delete. Deleting an unknown app is not an error.
func (s *Store) DeleteApp(ctx context.Context, id string) error {
	return s.write(ctx, func(q querier) error { return deleteApp(ctx, q, id) })
}

// DeleteApp is Store.DeleteApp within the transaction.
func (t *Tx) DeleteApp(ctx context.Context, id string) error {
	return deleteApp(ctx, t.tx, id)
}

func deleteApp(ctx context.Context, q querier, id string) error {
	_, err := q.Exec(ctx, `
		WITH versions AS (DELETE FROM services.app_versions WHERE app_id = $1)
		DELETE FROM services.apps WHERE id = $1`,
		id)
	if err != nil {
		return fmt.Errorf("deleting app %q: %w", id, err)
	}
	return nil
}

// AppVersions returns the versions stored for app id, newest first (by when
// each was first stored, then by version, descending). An unknown app has no
// versions: the result is empty, not an error.
func (s *Store) AppVersions(ctx context.Context, id string) ([]string, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT version FROM services.app_versions WHERE app_id = $1
		ORDER BY created_at DESC, version DESC`,
		id)
	if err != nil {
		return nil, fmt.Errorf("listing versions of app %q: %w", id, err)
	}
	versions, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("listing versions of app %q: %w", id, err)
	}
	return versions, nil
}

// AppVersion returns the spec stored for app id at version, or an error
// wrapping ErrNotFound.
func (s *Store) AppVersion(ctx context.Context, id, version string) (json.RawMessage, error) {
	var spec []byte
	err := s.pool.QueryRow(ctx, `
		SELECT spec FROM services.app_versions WHERE app_id = $1 AND version = $2`,
		id, version).Scan(&spec)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("reading app %q version %q: %w", id, version, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("reading app %q version %q: %w", id, version, err)
	}
	return json.RawMessage(spec), nil
}

// GroupRecord is an explicitly stored group.
type GroupRecord struct {
	ID      string
	Version string
	Spec    json.RawMessage // a JSON object, normalized by jsonb
}

// Groups returns every stored group, ordered by ID.
func (s *Store) Groups(ctx context.Context) ([]GroupRecord, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, version, spec FROM services.groups ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("listing groups: %w", err)
	}
	groups, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (GroupRecord, error) {
		var g GroupRecord
		var spec []byte
		err := row.Scan(&g.ID, &g.Version, &spec)
		g.Spec = json.RawMessage(spec)
		return g, err
	})
	if err != nil {
		return nil, fmt.Errorf("listing groups: %w", err)
	}
	return groups, nil
}

// PutGroup creates or replaces group id. It is idempotent.
func (s *Store) PutGroup(ctx context.Context, id, version string, spec json.RawMessage) error {
	return s.write(ctx, func(q querier) error { return putGroup(ctx, q, id, version, spec) })
}

// PutGroup is Store.PutGroup within the transaction.
func (t *Tx) PutGroup(ctx context.Context, id, version string, spec json.RawMessage) error {
	return putGroup(ctx, t.tx, id, version, spec)
}

func putGroup(ctx context.Context, q querier, id, version string, spec json.RawMessage) error {
	if err := validID("group", id); err != nil {
		return fmt.Errorf("storing group: %w", err)
	}
	if version == "" {
		return fmt.Errorf("storing group %q: empty version: %w", id, ErrInvalid)
	}
	if err := validSpec(spec); err != nil {
		return fmt.Errorf("storing group %q: %w", id, err)
	}
	_, err := q.Exec(ctx, `
		INSERT INTO services.groups (id, version, spec) VALUES ($1, $2, $3)
		ON CONFLICT (id) DO UPDATE SET version = excluded.version, spec = excluded.spec`,
		id, version, string(spec))
	if err != nil {
		return fmt.Errorf("storing group %q: %w", id, err)
	}
	return nil
}

// DeleteGroup deletes group id's row (not the apps under its path).
// Deleting an unknown group is not an error.
func (s *Store) DeleteGroup(ctx context.Context, id string) error {
	return s.write(ctx, func(q querier) error {
		return deleteByKey(ctx, q, "group", `DELETE FROM services.groups WHERE id = $1`, id)
	})
}

// DeleteGroup is Store.DeleteGroup within the transaction.
func (t *Tx) DeleteGroup(ctx context.Context, id string) error {
	return deleteByKey(ctx, t.tx, "group", `DELETE FROM services.groups WHERE id = $1`, id)
}

// Record is a keyed JSON document, such as a deployment.
type Record struct {
	ID   string
	Spec json.RawMessage // a JSON object, normalized by jsonb
}

// Deployments returns every running deployment, oldest first.
func (s *Store) Deployments(ctx context.Context) ([]Record, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, spec FROM services.deployments ORDER BY created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("listing deployments: %w", err)
	}
	deps, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Record, error) {
		var r Record
		var spec []byte
		err := row.Scan(&r.ID, &spec)
		r.Spec = json.RawMessage(spec)
		return r, err
	})
	if err != nil {
		return nil, fmt.Errorf("listing deployments: %w", err)
	}
	return deps, nil
}

// PutDeployment creates deployment id or replaces its spec (its plan and
// progress); a replaced deployment keeps its place in the Deployments order.
// It is idempotent.
func (s *Store) PutDeployment(ctx context.Context, id string, spec json.RawMessage) error {
	return s.write(ctx, func(q querier) error { return putDeployment(ctx, q, id, spec) })
}

// PutDeployment is Store.PutDeployment within the transaction.
func (t *Tx) PutDeployment(ctx context.Context, id string, spec json.RawMessage) error {
	return putDeployment(ctx, t.tx, id, spec)
}

func putDeployment(ctx context.Context, q querier, id string, spec json.RawMessage) error {
	if err := validID("deployment", id); err != nil {
		return fmt.Errorf("storing deployment: %w", err)
	}
	if err := validSpec(spec); err != nil {
		return fmt.Errorf("storing deployment %q: %w", id, err)
	}
	_, err := q.Exec(ctx, `
		INSERT INTO services.deployments (id, spec) VALUES ($1, $2)
		ON CONFLICT (id) DO UPDATE SET spec = excluded.spec, updated_at = now()`,
		id, string(spec))
	if err != nil {
		return fmt.Errorf("storing deployment %q: %w", id, err)
	}
	return nil
}

// DeleteDeployment deletes deployment id (it finished or was abandoned).
// Deleting an unknown deployment is not an error.
func (s *Store) DeleteDeployment(ctx context.Context, id string) error {
	return s.write(ctx, func(q querier) error {
		return deleteByKey(ctx, q, "deployment", `DELETE FROM services.deployments WHERE id = $1`, id)
	})
}

// DeleteDeployment is Store.DeleteDeployment within the transaction.
func (t *Tx) DeleteDeployment(ctx context.Context, id string) error {
	return deleteByKey(ctx, t.tx, "deployment", `DELETE FROM services.deployments WHERE id = $1`, id)
}

// Ended is a deployment that ended: succeeded, failed or cancelled.
type Ended struct {
	ID string
	// Spec is the deployment as the API shows it, with its outcome (a
	// JSON object, normalized by jsonb).
	Spec       json.RawMessage
	FinishedAt time.Time
}

// EndDeployment deletes the running deployment id, if it is stored, and
// records it in the history as spec, ended at finished; the history keeps
// the newest keep entries (by finished, then id) and loses the older ones.
// It is idempotent: ending a deployment again replaces its entry.
func (s *Store) EndDeployment(ctx context.Context, id string, spec json.RawMessage, finished time.Time, keep int) error {
	return s.Atomically(ctx, func(tx *Tx) error { return tx.EndDeployment(ctx, id, spec, finished, keep) })
}

// EndDeployment is Store.EndDeployment within the transaction.
func (t *Tx) EndDeployment(ctx context.Context, id string, spec json.RawMessage, finished time.Time, keep int) error {
	if err := validID("deployment", id); err != nil {
		return fmt.Errorf("ending deployment: %w", err)
	}
	if err := validSpec(spec); err != nil {
		return fmt.Errorf("ending deployment %q: %w", id, err)
	}
	if keep < 1 {
		return fmt.Errorf("ending deployment %q: keeping %d ended deployments: %w", id, keep, ErrInvalid)
	}
	if err := deleteByKey(ctx, t.tx, "deployment", `DELETE FROM services.deployments WHERE id = $1`, id); err != nil {
		return err
	}
	_, err := t.tx.Exec(ctx, `
		INSERT INTO services.deployment_history (id, spec, finished_at) VALUES ($1, $2, $3)
		ON CONFLICT (id) DO UPDATE SET spec = excluded.spec, finished_at = excluded.finished_at`,
		id, string(spec), finished)
	if err != nil {
		return fmt.Errorf("recording ended deployment %q: %w", id, err)
	}
	_, err = t.tx.Exec(ctx, `
		DELETE FROM services.deployment_history WHERE id IN (
			SELECT id FROM services.deployment_history ORDER BY finished_at DESC, id DESC OFFSET $1)`, keep)
	if err != nil {
		return fmt.Errorf("trimming the deployment history: %w", err)
	}
	return nil
}

// DeploymentHistory returns the ended deployments, newest first (by
// finished, then id descending), at most limit of them.
func (s *Store) DeploymentHistory(ctx context.Context, limit int) ([]Ended, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT id, spec, finished_at FROM services.deployment_history
		ORDER BY finished_at DESC, id DESC LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("listing ended deployments: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Ended, error) {
		var e Ended
		var spec []byte
		err := row.Scan(&e.ID, &spec, &e.FinishedAt)
		e.Spec = json.RawMessage(spec)
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("listing ended deployments: %w", err)
	}
	return out, nil
}

// InstanceRecord is a task the framework launched and still tracks.
type InstanceRecord struct {
	TaskID string
	AppID  string
	// Spec holds the instance's version, agent, host, ports, state, health
	// and timestamps (a JSON object, normalized by jsonb).
	Spec json.RawMessage
}

// Instances returns every instance, ordered by AppID then TaskID.
func (s *Store) Instances(ctx context.Context) ([]InstanceRecord, error) {
	rows, err := s.pool.Query(ctx, `SELECT task_id, app_id, spec FROM services.instances ORDER BY app_id, task_id`)
	if err != nil {
		return nil, fmt.Errorf("listing instances: %w", err)
	}
	insts, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (InstanceRecord, error) {
		var r InstanceRecord
		var spec []byte
		err := row.Scan(&r.TaskID, &r.AppID, &spec)
		r.Spec = json.RawMessage(spec)
		return r, err
	})
	if err != nil {
		return nil, fmt.Errorf("listing instances: %w", err)
	}
	return insts, nil
}

// PutInstance creates or replaces the instance r.TaskID. It is idempotent.
func (s *Store) PutInstance(ctx context.Context, r InstanceRecord) error {
	return s.write(ctx, func(q querier) error { return putInstances(ctx, q, []InstanceRecord{r}) })
}

// PutInstance is Store.PutInstance within the transaction.
func (t *Tx) PutInstance(ctx context.Context, r InstanceRecord) error {
	return putInstances(ctx, t.tx, []InstanceRecord{r})
}

// PutInstances creates or replaces every instance of rs in one statement:
// one round trip and all or nothing, however many there are. If rs names a
// task twice, the later record wins. It is idempotent; an empty rs does
// nothing.
func (s *Store) PutInstances(ctx context.Context, rs []InstanceRecord) error {
	return s.write(ctx, func(q querier) error { return putInstances(ctx, q, rs) })
}

// PutInstances is Store.PutInstances within the transaction.
func (t *Tx) PutInstances(ctx context.Context, rs []InstanceRecord) error {
	return putInstances(ctx, t.tx, rs)
}

func putInstances(ctx context.Context, q querier, rs []InstanceRecord) error {
	if len(rs) == 0 {
		return nil
	}
	// An upsert may not touch a row twice in one statement, so keep only the
	// last record of each task.
	last := make(map[string]int, len(rs))
	for i, r := range rs {
		if err := validID("task", r.TaskID); err != nil {
			return fmt.Errorf("storing instances: %w", err)
		}
		if err := validID("app", r.AppID); err != nil {
			return fmt.Errorf("storing instance %q: %w", r.TaskID, err)
		}
		if err := validSpec(r.Spec); err != nil {
			return fmt.Errorf("storing instance %q: %w", r.TaskID, err)
		}
		last[r.TaskID] = i
	}
	taskIDs := make([]string, 0, len(last))
	appIDs := make([]string, 0, len(last))
	specs := make([]string, 0, len(last))
	for i, r := range rs {
		if last[r.TaskID] != i {
			continue
		}
		taskIDs, appIDs, specs = append(taskIDs, r.TaskID), append(appIDs, r.AppID), append(specs, string(r.Spec))
	}
	_, err := q.Exec(ctx, `
		INSERT INTO services.instances (task_id, app_id, spec)
		SELECT t, a, s::jsonb FROM unnest($1::text[], $2::text[], $3::text[]) AS u(t, a, s)
		ON CONFLICT (task_id) DO UPDATE SET
			app_id = excluded.app_id,
			spec = excluded.spec,
			updated_at = now()`,
		taskIDs, appIDs, specs)
	if err != nil {
		if len(taskIDs) == 1 {
			return fmt.Errorf("storing instance %q: %w", taskIDs[0], err)
		}
		return fmt.Errorf("storing %d instances: %w", len(taskIDs), err)
	}
	return nil
}

// DeleteInstance forgets instance taskID. Deleting an unknown instance is
// not an error.
func (s *Store) DeleteInstance(ctx context.Context, taskID string) error {
	return s.write(ctx, func(q querier) error {
		return deleteByKey(ctx, q, "instance", `DELETE FROM services.instances WHERE task_id = $1`, taskID)
	})
}

// DeleteInstance is Store.DeleteInstance within the transaction.
func (t *Tx) DeleteInstance(ctx context.Context, taskID string) error {
	return deleteByKey(ctx, t.tx, "instance", `DELETE FROM services.instances WHERE task_id = $1`, taskID)
}

// Delay is an app's launch backoff state.
type Delay struct {
	Failures    int       // consecutive failed launches, >= 0
	LastFailure time.Time // when the last one happened (to the microsecond)
}

// LaunchDelays returns the launch delay of every app that has one.
func (s *Store) LaunchDelays(ctx context.Context) (map[string]Delay, error) {
	rows, err := s.pool.Query(ctx, `SELECT app_id, failures, last_failure FROM services.launch_delays`)
	if err != nil {
		return nil, fmt.Errorf("listing launch delays: %w", err)
	}
	defer rows.Close()
	delays := map[string]Delay{}
	for rows.Next() {
		var id string
		var d Delay
		if err := rows.Scan(&id, &d.Failures, &d.LastFailure); err != nil {
			return nil, fmt.Errorf("listing launch delays: %w", err)
		}
		d.LastFailure = d.LastFailure.UTC()
		delays[id] = d
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing launch delays: %w", err)
	}
	return delays, nil
}

// SetLaunchDelay creates or replaces app appID's launch delay. It is
// idempotent.
func (s *Store) SetLaunchDelay(ctx context.Context, appID string, d Delay) error {
	return s.write(ctx, func(q querier) error { return setLaunchDelay(ctx, q, appID, d) })
}

// SetLaunchDelay is Store.SetLaunchDelay within the transaction.
func (t *Tx) SetLaunchDelay(ctx context.Context, appID string, d Delay) error {
	return setLaunchDelay(ctx, t.tx, appID, d)
}

func setLaunchDelay(ctx context.Context, q querier, appID string, d Delay) error {
	if err := validID("app", appID); err != nil {
		return fmt.Errorf("storing launch delay: %w", err)
	}
	if d.Failures < 0 {
		return fmt.Errorf("storing launch delay of app %q: negative failures %d: %w", appID, d.Failures, ErrInvalid)
	}
	if d.LastFailure.IsZero() {
		return fmt.Errorf("storing launch delay of app %q: zero last failure time: %w", appID, ErrInvalid)
	}
	_, err := q.Exec(ctx, `
		INSERT INTO services.launch_delays (app_id, failures, last_failure) VALUES ($1, $2, $3)
		ON CONFLICT (app_id) DO UPDATE SET failures = excluded.failures, last_failure = excluded.last_failure`,
		appID, d.Failures, d.LastFailure)
	if err != nil {
		return fmt.Errorf("storing launch delay of app %q: %w", appID, err)
	}
	return nil
}

// ClearLaunchDelay removes app appID's launch delay, so that its next launch
// is not held back. Clearing an absent delay is not an error.
func (s *Store) ClearLaunchDelay(ctx context.Context, appID string) error {
	return s.write(ctx, func(q querier) error {
		return deleteByKey(ctx, q, "launch delay", `DELETE FROM services.launch_delays WHERE app_id = $1`, appID)
	})
}

// ClearLaunchDelay is Store.ClearLaunchDelay within the transaction.
func (t *Tx) ClearLaunchDelay(ctx context.Context, appID string) error {
	return deleteByKey(ctx, t.tx, "launch delay", `DELETE FROM services.launch_delays WHERE app_id = $1`, appID)
}

// deleteByKey runs a one-parameter DELETE; what names the record for errors.
func deleteByKey(ctx context.Context, q querier, what, sql, key string) error {
	if _, err := q.Exec(ctx, sql, key); err != nil {
		return fmt.Errorf("deleting %s %q: %w", what, key, err)
	}
	return nil
}

func validID(kind, id string) error {
	if id == "" {
		return fmt.Errorf("empty %s id: %w", kind, ErrInvalid)
	}
	return nil
}

// validSpec accepts a JSON object. Postgres would accept any JSON in a jsonb
// column, but every spec this store keeps is an object, and refusing the
// rest here turns a caller's bug into ErrInvalid instead of odd data.
func validSpec(spec json.RawMessage) error {
	if !json.Valid(spec) {
		return fmt.Errorf("spec is not valid JSON: %w", ErrInvalid)
	}
	if trimmed := bytes.TrimLeft(spec, " \t\r\n"); trimmed[0] == '{' {
		return nil
	}
	return fmt.Errorf("spec is not a JSON object: %w", ErrInvalid)
}

// Permanent reports whether err is one that retrying cannot cure: an
// argument refused before reaching the database (ErrInvalid), a record that
// does not exist (ErrNotFound), a write of a deposed leader (ErrFenced),
// or a data or integrity error raised by Postgres (SQLSTATE classes 22 and
// 23). Other errors (connection refused, timeouts, a restarting server, a
// canceled context) are transient.
func Permanent(err error) bool {
	if errors.Is(err, ErrInvalid) || errors.Is(err, ErrNotFound) || errors.Is(err, ErrFenced) {
		return true
	}
	return pg.DataError(err)
}
