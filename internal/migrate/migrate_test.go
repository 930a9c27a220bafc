package migrate

import (
	"context"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"

	"corral/internal/testpg"
	"corral/migrations"
)

func TestMain(m *testing.M) { testpg.Main(m) }

// latest is the highest version among the embedded migrations.
func latest(t *testing.T) uint {
	t.Helper()
	entries, err := migrations.FS.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	var max uint
	for _, e := range entries {
		var v uint
		for _, c := range e.Name() {
			if c < '0' || c > '9' {
				break
			}
			v = v*10 + uint(c-'0')
		}
		if v > max {
			max = v
		}
	}
	if max == 0 {
		t.Fatal("no migrations embedded")
	}
	return max
}

// corralTables lists the tables of corral's schemas, as schema.table.
func corralTables(t *testing.T, dbURL string) []string {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(t.Context(),
		"SELECT table_schema || '.' || table_name FROM information_schema.tables WHERE table_schema IN ('kernel', 'services', 'jobs')")
	if err != nil {
		t.Fatal(err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(names)
	return names
}

func checkVersion(t *testing.T, dbURL string, want uint) {
	t.Helper()
	v, dirty, err := Version(t.Context(), dbURL)
	if err != nil {
		t.Fatalf("Version: %v", err)
	}
	if v != want || dirty {
		t.Errorf("Version = %d, dirty %v; want %d, clean", v, dirty, want)
	}
}

func TestUpDownUp(t *testing.T) {
	ctx := t.Context()
	db := testpg.URL(t)
	wantTables := []string{
		"jobs.edges", "jobs.framework", "jobs.jobs", "jobs.notifications", "jobs.runs", "jobs.stats", "jobs.term",
		"kernel.agents", "kernel.frameworks", "kernel.maintenance", "kernel.master", "kernel.quotas", "kernel.secrets", "kernel.term", "kernel.weights",
		"services.app_versions", "services.apps", "services.deployment_history", "services.deployments", "services.event_subscriptions",
		"services.framework", "services.groups", "services.instances", "services.launch_delays", "services.term",
	}

	checkVersion(t, db, 0)
	for i, step := range []string{"up", "up again", "down", "down again", "up after down"} {
		var err error
		if strings.HasPrefix(step, "up") {
			err = Up(ctx, db)
		} else {
			err = Down(ctx, db)
		}
		if err != nil {
			t.Fatalf("step %d (%s): %v", i, step, err)
		}
		if strings.HasPrefix(step, "up") {
			checkVersion(t, db, latest(t))
			if diff := cmp.Diff(wantTables, corralTables(t, db)); diff != "" {
				t.Errorf("after %s: tables (-want +got):\n%s", step, diff)
			}
		} else {
			checkVersion(t, db, 0)
			if got := corralTables(t, db); len(got) != 0 {
				t.Errorf("after %s: tables = %v; want none", step, got)
			}
		}
	}
}

func TestConcurrentUp(t *testing.T) {
	db := testpg.URL(t)
	const n = 4
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { errs[i] = Up(t.Context(), db) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Up #%d: %v", i, err)
		}
	}
	checkVersion(t, db, latest(t))
}

func TestBadURL(t *testing.T) {
	for _, u := range []string{"mysql://x/y", "host=localhost dbname=x", "postgres://%zz"} {
		if err := Up(t.Context(), u); err == nil {
			t.Errorf("Up(%q) = nil; want an error", u)
		}
	}
}

func TestCanceledContext(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := Up(ctx, testpg.URL(t)); err == nil {
		t.Error("Up with a canceled context = nil; want an error")
	}
}

func TestPgx5URL(t *testing.T) {
	cases := []struct{ in, want string }{
		{"postgres://u:p@h:5432/db?sslmode=disable", "pgx5://u:p@h:5432/db?sslmode=disable"},
		{"postgresql://h/db", "pgx5://h/db"},
	}
	for _, c := range cases {
		got, err := pgx5URL(c.in)
		if err != nil || got != c.want {
			t.Errorf("pgx5URL(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
}
