package lead

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"corral/internal/migrate"
	"corral/internal/testpg"
)

func TestMain(m *testing.M) { testpg.Main(m) }

// newDB returns a fresh, migrated database.
func newDB(t *testing.T) string {
	t.Helper()
	db := testpg.URL(t)
	if err := migrate.Up(t.Context(), db); err != nil {
		t.Fatal(err)
	}
	return db
}

// logger logs to the test's output.
func logger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelInfo}))
}

// eventually fails t unless cond holds within 20 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestMemberSame(t *testing.T) {
	for _, tc := range []struct {
		name string
		a, b Member
		want bool
	}{
		{"same id", Member{ID: "x", URL: "http://a:1"}, Member{ID: "x", URL: "http://b:1"}, true},
		{"same url, other id (restarted)", Member{ID: "x", URL: "http://a:1"}, Member{ID: "y", URL: "http://a:1/"}, true},
		{"other id and url", Member{ID: "x", URL: "http://a:1"}, Member{ID: "y", URL: "http://b:1"}, false},
		{"no id, other url", Member{URL: "http://a:1"}, Member{URL: "http://b:1"}, false},
		{"nothing known", Member{}, Member{}, false},
		{"empty ids do not match", Member{URL: "http://a:1"}, Member{URL: "http://b:1", ID: ""}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.a.Same(tc.b); got != tc.want {
				t.Errorf("%+v.Same(%+v) = %v; want %v", tc.a, tc.b, got, tc.want)
			}
		})
	}
}

func TestDecodeMember(t *testing.T) {
	for _, tc := range []struct {
		name    string
		data    string
		want    Member
		wantErr bool
	}{
		{"url and id", `{"url": "http://h:4400", "id": "x"}`, Member{URL: "http://h:4400", ID: "x"}, false},
		{"url only (older services)", `{"url": "http://h:8080"}`, Member{URL: "http://h:8080"}, false},
		{"unknown fields", `{"url": "http://h:4400", "id": "x", "v": 2}`, Member{URL: "http://h:4400", ID: "x"}, false},
		{"no url", `{"id": "x"}`, Member{}, true},
		{"not json", `http://h:4400`, Member{}, true},
		{"empty", ``, Member{}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DecodeMember([]byte(tc.data))
			if (err != nil) != tc.wantErr || got.ID != tc.want.ID || got.URL != tc.want.URL {
				t.Errorf("DecodeMember(%q) = %+v, %v; want %+v, error %v", tc.data, got, err, tc.want, tc.wantErr)
			}
			if err == nil && string(got.Data) != tc.data {
				t.Errorf("DecodeMember(%q).Data = %q; want the data itself", tc.data, got.Data)
			}
		})
	}
	m := Member{ID: "id-1", URL: "http://10.0.0.1:8080"}
	if got, err := DecodeMember(EncodeMember(m)); err != nil || got.ID != m.ID || got.URL != m.URL {
		t.Errorf("DecodeMember(EncodeMember(%+v)) = %+v, %v", m, got, err)
	}
}

// A sole instance always leads: a lead that returns is called again
// after a pause, each time under a context of its own, until Run's ends.
func TestSoleLeadsAgain(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		self := Member{ID: "me", URL: "http://me:1"}
		s := NewSole(self)
		if l, ok := s.Leader(); !ok || !l.Same(self) {
			t.Errorf("Leader() = %+v, %v; want itself", l, ok)
		}
		ctx, cancel := context.WithCancel(t.Context())
		var calls atomic.Int32
		var prev context.Context
		done := make(chan error)
		go func() {
			done <- s.Run(ctx, func(lctx context.Context) {
				calls.Add(1)
				if prev != nil && prev.Err() == nil {
					t.Error("the previous term's context is still live")
				}
				prev = lctx
			})
		}()
		time.Sleep(soleRestart*2 + soleRestart/2)
		if n := calls.Load(); n != 3 {
			t.Errorf("lead called %d times in 2.5 pauses; want 3", n)
		}
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Run = %v; want context.Canceled", err)
		}
	})
}
