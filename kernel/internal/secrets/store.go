package secrets

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"corral/internal/lead"
	"corral/internal/pg"
)

// Meta is what may be shown about a secret: everything but its value.
type Meta struct {
	// Name is the secret's name as stored, without a leading "/".
	Name string
	// Created is when the name was first written (since it was last
	// deleted); Updated when its value was last written.
	Created, Updated time.Time
	// Version is 1 when the secret is created, and bumped by every Put.
	// Re-encryption by Rotate leaves it alone: the value is the same.
	Version int64
	// Size is the length of the value in bytes.
	Size int
}

// Store is the secret store on a Postgres connection pool. It is safe for
// concurrent use. Methods take ctx first and honor its deadline.
type Store struct {
	pool  *pgxpool.Pool
	keys  *Keyring
	fence *lead.Fence
}

// Open returns a Store for the database at dbURL (postgres://…), whose
// schema must have been migrated (corral/internal/migrate), sealing and
// opening values with keys. When fence is not nil, every write checks in
// its transaction that fence's term still holds and fails with
// lead.ErrFenced otherwise (see lead.Fence); nil writes unchecked. Open
// does not connect: it fails only for a malformed URL. The caller must
// Close the store.
func Open(ctx context.Context, dbURL string, keys *Keyring, fence *lead.Fence) (*Store, error) {
	if keys == nil {
		return nil, errors.New("opening the secret store: no keys")
	}
	pool, err := pg.Open(ctx, dbURL)
	if err != nil {
		return nil, err
	}
	return &Store{pool: pool, keys: keys, fence: fence}, nil
}

// Close closes every connection, waiting for those in use to be released.
// The store must not be used afterwards.
func (s *Store) Close() { s.pool.Close() }

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error { return pg.Ping(ctx, s.pool, "secret store") }

// Keys returns the store's keyring.
func (s *Store) Keys() *Keyring { return s.keys }

// write runs fn in a transaction that first checks the fence, if any.
func (s *Store) write(ctx context.Context, fn func(pgx.Tx) error) error {
	return pg.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		if s.fence != nil {
			if err := s.fence.Check(ctx, tx); err != nil {
				return err
			}
		}
		return fn(tx)
	})
}

const metaColumns = `name, created_at, updated_at, version, size`

func scanMeta(row pgx.Row, m *Meta, more ...any) error {
	err := row.Scan(append([]any{&m.Name, &m.Created, &m.Updated, &m.Version, &m.Size}, more...)...)
	m.Created, m.Updated = m.Created.UTC(), m.Updated.UTC()
	return err
}

// Put stores value under name, sealed under the current key: it creates
// the secret (created is true, Version 1) or replaces its value (Version
// bumped, Created kept). It returns the metadata written. A name or value
// the store cannot hold is an *InvalidError, before the database is
// asked.
func (s *Store) Put(ctx context.Context, name string, value []byte) (m Meta, created bool, err error) {
	n, err := Normalize(name)
	if err != nil {
		return Meta{}, false, fmt.Errorf("putting a secret: %w", err)
	}
	if err := checkValue(value); err != nil {
		return Meta{}, false, fmt.Errorf("putting secret %q: %w", n, err)
	}
	id, nonce, ciphertext, err := s.keys.seal(n, value)
	if err != nil {
		return Meta{}, false, fmt.Errorf("putting secret %q: %w", n, err)
	}
	err = s.write(ctx, func(tx pgx.Tx) error {
		return scanMeta(tx.QueryRow(ctx, `
			INSERT INTO kernel.secrets AS s (name, key_id, nonce, ciphertext, size)
			VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (name) DO UPDATE SET
				key_id = excluded.key_id,
				nonce = excluded.nonce,
				ciphertext = excluded.ciphertext,
				size = excluded.size,
				version = s.version + 1,
				updated_at = now()
			RETURNING `+metaColumns,
			n, id[:], nonce, ciphertext, len(value)), &m)
	})
	if err != nil {
		return Meta{}, false, fmt.Errorf("putting secret %q: %w", n, err)
	}
	// Only Put writes a version, and it starts at 1 only on insert.
	return m, m.Version == 1, nil
}

// Get returns the value of name and its metadata. It is for the master's
// own use (handing a value to the task that references it): no API
// returns a value. A missing secret is ErrNotFound; a row that cannot be
// decrypted wraps ErrUndecryptable and says why.
func (s *Store) Get(ctx context.Context, name string) ([]byte, Meta, error) {
	n, err := Normalize(name)
	if err != nil {
		return nil, Meta{}, fmt.Errorf("getting a secret: %w", err)
	}
	var (
		m                        Meta
		keyID, nonce, ciphertext []byte
	)
	err = scanMeta(s.pool.QueryRow(ctx, `SELECT `+metaColumns+`, key_id, nonce, ciphertext FROM kernel.secrets WHERE name = $1`, n),
		&m, &keyID, &nonce, &ciphertext)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, Meta{}, fmt.Errorf("getting secret %q: %w", n, ErrNotFound)
	}
	if err != nil {
		return nil, Meta{}, fmt.Errorf("getting secret %q: %w", n, err)
	}
	value, err := s.open(n, keyID, nonce, ciphertext)
	if err != nil {
		return nil, Meta{}, fmt.Errorf("getting secret %q: %w", n, err)
	}
	return value, m, nil
}

// open decrypts a row as read from the table.
func (s *Store) open(name string, keyID, nonce, ciphertext []byte) ([]byte, error) {
	var id KeyID
	if len(keyID) != len(id) {
		return nil, fmt.Errorf("secret %q has a key id of %d bytes, not %d: the row was altered: %w", name, len(keyID), len(id), ErrUndecryptable)
	}
	copy(id[:], keyID)
	return s.keys.open(name, id, nonce, ciphertext)
}

// Metadata returns name's metadata; a missing secret is ErrNotFound.
func (s *Store) Metadata(ctx context.Context, name string) (Meta, error) {
	n, err := Normalize(name)
	if err != nil {
		return Meta{}, fmt.Errorf("reading a secret's metadata: %w", err)
	}
	var m Meta
	err = scanMeta(s.pool.QueryRow(ctx, `SELECT `+metaColumns+` FROM kernel.secrets WHERE name = $1`, n), &m)
	if errors.Is(err, pgx.ErrNoRows) {
		return Meta{}, fmt.Errorf("reading secret %q: %w", n, ErrNotFound)
	}
	if err != nil {
		return Meta{}, fmt.Errorf("reading secret %q: %w", n, err)
	}
	return m, nil
}

// List returns the metadata of the secrets under prefix, ordered by name.
// A prefix is matched by whole components (see NormalizePrefix): "team"
// lists "team" and "team/db" but not "teams/db"; "" lists every secret.
func (s *Store) List(ctx context.Context, prefix string) ([]Meta, error) {
	p, err := NormalizePrefix(prefix)
	if err != nil {
		return nil, fmt.Errorf("listing secrets: %w", err)
	}
	rows, err := s.pool.Query(ctx, `
		SELECT `+metaColumns+` FROM kernel.secrets
		WHERE $1 = '' OR name = $1 OR starts_with(name, $1 || '/')
		ORDER BY name`, p)
	if err != nil {
		return nil, fmt.Errorf("listing secrets: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Meta, error) {
		var m Meta
		return m, scanMeta(row, &m)
	})
	if err != nil {
		return nil, fmt.Errorf("listing secrets: %w", err)
	}
	return out, nil
}

// Delete removes name; a missing secret is ErrNotFound.
func (s *Store) Delete(ctx context.Context, name string) error {
	n, err := Normalize(name)
	if err != nil {
		return fmt.Errorf("deleting a secret: %w", err)
	}
	err = s.write(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM kernel.secrets WHERE name = $1`, n)
		if err == nil && tag.RowsAffected() == 0 {
			err = ErrNotFound
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("deleting secret %q: %w", n, err)
	}
	return nil
}

// Rotation is what Rotate did.
type Rotation struct {
	// Rotated is how many rows were re-encrypted under the current key.
	Rotated int
	// Failed names the rows left under another key because they could
	// not be decrypted (see the error).
	Failed []string
}

// Rotate re-encrypts under the current key every row sealed under another
// key, each in its own transaction, keeping its version and times. It is
// idempotent: rows already under the current key are left alone, so
// running it again (after a crash, or on every start) does only what is
// left. A row that cannot be decrypted does not stop the others: it is
// named in Failed and the error, which wraps ErrUndecryptable. Any other
// error stops it; what was rotated stays rotated.
func (s *Store) Rotate(ctx context.Context) (Rotation, error) {
	var r Rotation
	cur := s.keys.Current()
	rows, err := s.pool.Query(ctx, `SELECT name FROM kernel.secrets WHERE key_id <> $1 ORDER BY name`, cur[:])
	if err != nil {
		return r, fmt.Errorf("rotating secrets: %w", err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return r, fmt.Errorf("rotating secrets: %w", err)
	}
	var undecryptable []error
	for _, name := range names {
		done, err := s.rotate(ctx, name)
		switch {
		case errors.Is(err, ErrUndecryptable):
			r.Failed = append(r.Failed, name)
			undecryptable = append(undecryptable, err)
		case err != nil:
			return r, fmt.Errorf("rotating secret %q: %w", name, err)
		case done:
			r.Rotated++
		}
	}
	if len(undecryptable) > 0 {
		return r, fmt.Errorf("rotating secrets: %d of %d left under their old key (%s): %w",
			len(r.Failed), len(names), strings.Join(r.Failed, ", "), errors.Join(undecryptable...))
	}
	return r, nil
}

// rotate re-encrypts one row unless it is gone or already under the
// current key (another master or an earlier run got there first).
func (s *Store) rotate(ctx context.Context, name string) (done bool, err error) {
	cur := s.keys.Current()
	err = s.write(ctx, func(tx pgx.Tx) error {
		var keyID, nonce, ciphertext []byte
		err := tx.QueryRow(ctx, `
			SELECT key_id, nonce, ciphertext FROM kernel.secrets
			WHERE name = $1 AND key_id <> $2 FOR UPDATE`, name, cur[:]).Scan(&keyID, &nonce, &ciphertext)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		value, err := s.open(name, keyID, nonce, ciphertext)
		if err != nil {
			return err
		}
		id, nonce, ciphertext, err := s.keys.seal(name, value)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE kernel.secrets SET key_id = $2, nonce = $3, ciphertext = $4 WHERE name = $1`,
			name, id[:], nonce, ciphertext)
		done = err == nil
		return err
	})
	return done, err
}
