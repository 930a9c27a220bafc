package testpg

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/jackc/pgx/v5"
)

func TestMain(m *testing.M) { Main(m) }

func connect(t *testing.T, u string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), u)
	if err != nil {
		t.Fatalf("pgx.Connect(%q): %v", u, err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func dbExists(t *testing.T, conn *pgx.Conn, name string) bool {
	t.Helper()
	var n int
	if err := conn.QueryRow(t.Context(), "SELECT count(*) FROM pg_database WHERE datname = $1", name).Scan(&n); err != nil {
		t.Fatalf("querying pg_database: %v", err)
	}
	return n == 1
}

func TestURLGivesFreshEmptyDatabases(t *testing.T) {
	observer := connect(t, URL(t))

	var first string
	t.Run("first", func(t *testing.T) {
		conn := connect(t, URL(t))
		if err := conn.QueryRow(t.Context(), "SELECT current_database()").Scan(&first); err != nil {
			t.Fatal(err)
		}
		var tables int
		if err := conn.QueryRow(t.Context(),
			"SELECT count(*) FROM information_schema.tables WHERE table_schema NOT IN ('pg_catalog', 'information_schema')").Scan(&tables); err != nil {
			t.Fatal(err)
		}
		if tables != 0 {
			t.Errorf("fresh database has %d tables; want 0", tables)
		}
		if _, err := conn.Exec(t.Context(), "CREATE TABLE scratch (x int)"); err != nil {
			t.Fatal(err)
		}
		if !dbExists(t, observer, first) {
			t.Errorf("database %s does not exist during its test", first)
		}
	})
	if first == "" {
		t.Fatal("subtest did not report its database")
	}
	if dbExists(t, observer, first) {
		t.Errorf("database %s still exists after its test ended", first)
	}

	var second string
	if err := connect(t, URL(t)).QueryRow(t.Context(), "SELECT current_database()").Scan(&second); err != nil {
		t.Fatal(err)
	}
	if second == first {
		t.Errorf("two calls to URL gave the same database %s", first)
	}
}

func TestRestart(t *testing.T) {
	if os.Getenv(EnvURL) != "" {
		t.Skip("external server")
	}
	u := URL(t)
	conn := connect(t, u)
	if _, err := conn.Exec(t.Context(), "CREATE TABLE kept (x int); INSERT INTO kept VALUES (7)"); err != nil {
		t.Fatal(err)
	}

	Stop(t)
	if c, err := pgx.Connect(t.Context(), u); err == nil {
		c.Close(context.Background())
		t.Fatal("connected to a stopped server")
	}
	Start(t)

	var x int
	if err := connect(t, u).QueryRow(t.Context(), "SELECT x FROM kept").Scan(&x); err != nil {
		t.Fatalf("after restart: %v", err)
	}
	if x != 7 {
		t.Errorf("after restart x = %d; want 7", x)
	}

	Restart(t)
	if err := connect(t, u).Ping(t.Context()); err != nil {
		t.Errorf("after Restart: %v", err)
	}
}

func TestStoppedServerComesBackAfterTest(t *testing.T) {
	if os.Getenv(EnvURL) != "" {
		t.Skip("external server")
	}
	t.Run("stops", func(t *testing.T) { Stop(t) })
	if !local.running() {
		t.Fatal("server still stopped after the test that stopped it ended")
	}
	if err := connect(t, URL(t)).Ping(t.Context()); err != nil {
		t.Fatal(err)
	}
}

func TestSweep(t *testing.T) {
	base := t.TempDir()
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	mk := func(name string, owner int) string {
		d := filepath.Join(base, dirPrefix+name)
		if err := os.MkdirAll(filepath.Join(d, "data"), 0o755); err != nil {
			t.Fatal(err)
		}
		if owner != 0 {
			if err := os.WriteFile(filepath.Join(d, ownerFile), []byte(strconv.Itoa(owner)), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return d
	}
	cases := []struct {
		name string
		dir  string
		keep bool
	}{
		{"dead owner", mk("dead", dead.Process.Pid), false},
		{"live owner", mk("live", os.Getpid()), true},
		{"no owner file yet", mk("new", 0), true},
	}
	postmaster := mk("serving", dead.Process.Pid)
	if err := os.WriteFile(filepath.Join(postmaster, "data", "postmaster.pid"), []byte(strconv.Itoa(os.Getpid())+"\n/x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases = append(cases, struct {
		name string
		dir  string
		keep bool
	}{"postmaster still running", postmaster, true})

	sweep(base)
	for _, c := range cases {
		_, err := os.Stat(c.dir)
		if kept := err == nil; kept != c.keep {
			t.Errorf("%s: sweep kept = %v; want %v", c.name, kept, c.keep)
		}
	}
}
