package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"corral/internal/migrate"
	"corral/internal/testpg"
)

func TestMain(m *testing.M) { testpg.Main(m) }

// newStore returns a store on a freshly migrated database.
func newStore(t *testing.T) *Store {
	t.Helper()
	db := testpg.URL(t)
	if err := migrate.Up(t.Context(), db); err != nil {
		t.Fatalf("migrate.Up: %v", err)
	}
	s, err := Open(t.Context(), db)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

// sameJSON reports whether two JSON documents hold the same value.
func sameJSON(t *testing.T, a, b json.RawMessage) bool {
	t.Helper()
	var va, vb any
	if err := json.Unmarshal(a, &va); err != nil {
		t.Fatalf("unmarshal %s: %v", a, err)
	}
	if err := json.Unmarshal(b, &vb); err != nil {
		t.Fatalf("unmarshal %s: %v", b, err)
	}
	return cmp.Equal(va, vb)
}

// jsonComparer compares json.RawMessage by value in cmp.Diff, since jsonb
// normalizes the bytes.
var jsonComparer = cmp.Comparer(func(a, b json.RawMessage) bool {
	var va, vb any
	if json.Unmarshal(a, &va) != nil || json.Unmarshal(b, &vb) != nil {
		return string(a) == string(b)
	}
	return cmp.Equal(va, vb)
})

func TestFrameworkID(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	if id, err := s.FrameworkID(ctx); id != "" || err != nil {
		t.Fatalf("FrameworkID on empty store = %q, %v; want \"\", nil", id, err)
	}
	for _, id := range []string{"fw-1", "fw-2", "fw-2"} {
		if err := s.SetFrameworkID(ctx, id); err != nil {
			t.Fatalf("SetFrameworkID(%q): %v", id, err)
		}
		if got, err := s.FrameworkID(ctx); got != id || err != nil {
			t.Errorf("FrameworkID() = %q, %v; want %q, nil", got, err, id)
		}
	}
}

func TestApps(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	if _, err := s.App(ctx, "/prod/web"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("App(unknown) err = %v; want ErrNotFound", err)
	}
	if apps, err := s.Apps(ctx); len(apps) != 0 || err != nil {
		t.Fatalf("Apps on empty store = %v, %v; want none", apps, err)
	}

	v1 := json.RawMessage(`{"id": "/prod/web", "cmd": "sleep 1", "instances": 1}`)
	v2 := json.RawMessage(`{"id":"/prod/web","cmd":"sleep 2","instances":3}`)
	if err := s.PutApp(ctx, "/prod/web", "2026-01-01T00:00:00.000Z", v1); err != nil {
		t.Fatalf("PutApp v1: %v", err)
	}
	first, err := s.App(ctx, "/prod/web")
	if err != nil {
		t.Fatalf("App: %v", err)
	}
	if first.Version != "2026-01-01T00:00:00.000Z" || !sameJSON(t, first.Spec, v1) || first.CreatedAt.IsZero() || !first.UpdatedAt.Equal(first.CreatedAt) {
		t.Errorf("after PutApp v1: %+v", first)
	}

	// Repeating the same put changes nothing, not even UpdatedAt.
	if err := s.PutApp(ctx, "/prod/web", "2026-01-01T00:00:00.000Z", v1); err != nil {
		t.Fatalf("PutApp v1 again: %v", err)
	}
	again, err := s.App(ctx, "/prod/web")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(first, again, jsonComparer); diff != "" {
		t.Errorf("repeated PutApp changed the record (-before +after):\n%s", diff)
	}

	if err := s.PutApp(ctx, "/prod/web", "2026-01-02T00:00:00.000Z", v2); err != nil {
		t.Fatalf("PutApp v2: %v", err)
	}
	if err := s.PutApp(ctx, "/prod/db", "2026-01-01T00:00:00.000Z", v1); err != nil {
		t.Fatalf("PutApp other app: %v", err)
	}
	second, err := s.App(ctx, "/prod/web")
	if err != nil {
		t.Fatal(err)
	}
	if second.Version != "2026-01-02T00:00:00.000Z" || !sameJSON(t, second.Spec, v2) {
		t.Errorf("after PutApp v2: %+v", second)
	}
	if !second.CreatedAt.Equal(first.CreatedAt) || !second.UpdatedAt.After(first.UpdatedAt) {
		t.Errorf("after PutApp v2: CreatedAt %v → %v, UpdatedAt %v → %v; want CreatedAt kept, UpdatedAt later",
			first.CreatedAt, second.CreatedAt, first.UpdatedAt, second.UpdatedAt)
	}

	apps, err := s.Apps(ctx)
	if err != nil {
		t.Fatalf("Apps: %v", err)
	}
	var ids []string
	for _, a := range apps {
		ids = append(ids, a.ID)
	}
	if diff := cmp.Diff([]string{"/prod/db", "/prod/web"}, ids); diff != "" {
		t.Errorf("Apps ids (-want +got):\n%s", diff)
	}

	if err := s.DeleteApp(ctx, "/prod/web"); err != nil {
		t.Fatalf("DeleteApp: %v", err)
	}
	if _, err := s.App(ctx, "/prod/web"); !errors.Is(err, ErrNotFound) {
		t.Errorf("App after delete: err = %v; want ErrNotFound", err)
	}
	if vs, err := s.AppVersions(ctx, "/prod/web"); len(vs) != 0 || err != nil {
		t.Errorf("AppVersions after delete = %v, %v; want none", vs, err)
	}
	if vs, err := s.AppVersions(ctx, "/prod/db"); len(vs) != 1 || err != nil {
		t.Errorf("AppVersions of the other app after delete = %v, %v; want its one version", vs, err)
	}
	if err := s.DeleteApp(ctx, "/prod/web"); err != nil {
		t.Errorf("DeleteApp of a deleted app = %v; want nil", err)
	}
}

func TestAppVersions(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	spec := func(i int) json.RawMessage { return json.RawMessage(fmt.Sprintf(`{"cmd":"sleep %d"}`, i)) }
	versions := []string{"2026-01-01T00:00:00.000Z", "2026-01-03T00:00:00.000Z", "2026-01-02T00:00:00.000Z"}
	for i, v := range versions {
		if err := s.PutApp(ctx, "/a", v, spec(i)); err != nil {
			t.Fatalf("PutApp %s: %v", v, err)
		}
	}
	// Storing an old version again (a rollback to it) does not make it new.
	if err := s.PutApp(ctx, "/a", versions[0], spec(0)); err != nil {
		t.Fatal(err)
	}
	got, err := s.AppVersions(ctx, "/a")
	if err != nil {
		t.Fatalf("AppVersions: %v", err)
	}
	want := []string{versions[2], versions[1], versions[0]} // newest stored first
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("AppVersions (-want +got):\n%s", diff)
	}
	for i, v := range versions {
		got, err := s.AppVersion(ctx, "/a", v)
		if err != nil || !sameJSON(t, got, spec(i)) {
			t.Errorf("AppVersion(/a, %s) = %s, %v; want %s", v, got, err, spec(i))
		}
	}
	if _, err := s.AppVersion(ctx, "/a", "2030-01-01T00:00:00.000Z"); !errors.Is(err, ErrNotFound) {
		t.Errorf("AppVersion(unknown version) err = %v; want ErrNotFound", err)
	}
	if _, err := s.AppVersion(ctx, "/b", versions[0]); !errors.Is(err, ErrNotFound) {
		t.Errorf("AppVersion(unknown app) err = %v; want ErrNotFound", err)
	}

	// Versions put in one transaction share created_at: the version breaks
	// the tie.
	err = s.Atomically(ctx, func(tx *Tx) error {
		for _, v := range []string{"v1", "v3", "v2"} {
			if err := tx.PutApp(ctx, "/c", v, spec(0)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s.AppVersions(ctx, "/c"); err != nil || !cmp.Equal(got, []string{"v3", "v2", "v1"}) {
		t.Errorf("AppVersions(/c) = %v, %v; want [v3 v2 v1]", got, err)
	}
}

func TestGroups(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	if err := s.PutGroup(ctx, "/prod", "v1", json.RawMessage(`{"dependencies":["/db"]}`)); err != nil {
		t.Fatalf("PutGroup: %v", err)
	}
	if err := s.PutGroup(ctx, "/empty", "v1", json.RawMessage(`{}`)); err != nil {
		t.Fatalf("PutGroup: %v", err)
	}
	if err := s.PutGroup(ctx, "/prod", "v2", json.RawMessage(`{"dependencies":[]}`)); err != nil {
		t.Fatalf("PutGroup replace: %v", err)
	}
	got, err := s.Groups(ctx)
	if err != nil {
		t.Fatalf("Groups: %v", err)
	}
	want := []GroupRecord{
		{ID: "/empty", Version: "v1", Spec: json.RawMessage(`{}`)},
		{ID: "/prod", Version: "v2", Spec: json.RawMessage(`{"dependencies":[]}`)},
	}
	if diff := cmp.Diff(want, got, jsonComparer); diff != "" {
		t.Errorf("Groups (-want +got):\n%s", diff)
	}
	if err := s.DeleteGroup(ctx, "/prod"); err != nil {
		t.Fatalf("DeleteGroup: %v", err)
	}
	if err := s.DeleteGroup(ctx, "/nope"); err != nil {
		t.Errorf("DeleteGroup(unknown) = %v; want nil", err)
	}
	got, err = s.Groups(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want[:1], got, jsonComparer); diff != "" {
		t.Errorf("Groups after delete (-want +got):\n%s", diff)
	}
}

func TestDeployments(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	for _, id := range []string{"d-b", "d-a"} {
		if err := s.PutDeployment(ctx, id, json.RawMessage(`{"currentStep":0}`)); err != nil {
			t.Fatalf("PutDeployment(%s): %v", id, err)
		}
	}
	// Progress on the first deployment keeps it first.
	if err := s.PutDeployment(ctx, "d-b", json.RawMessage(`{"currentStep":1}`)); err != nil {
		t.Fatal(err)
	}
	got, err := s.Deployments(ctx)
	if err != nil {
		t.Fatalf("Deployments: %v", err)
	}
	want := []Record{
		{ID: "d-b", Spec: json.RawMessage(`{"currentStep":1}`)},
		{ID: "d-a", Spec: json.RawMessage(`{"currentStep":0}`)},
	}
	if diff := cmp.Diff(want, got, jsonComparer); diff != "" {
		t.Errorf("Deployments (-want +got):\n%s", diff)
	}
	if err := s.DeleteDeployment(ctx, "d-b"); err != nil {
		t.Fatalf("DeleteDeployment: %v", err)
	}
	if err := s.DeleteDeployment(ctx, "d-b"); err != nil {
		t.Errorf("DeleteDeployment again = %v; want nil", err)
	}
	got, err = s.Deployments(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want[1:], got, jsonComparer); diff != "" {
		t.Errorf("Deployments after delete (-want +got):\n%s", diff)
	}
}

func TestEndDeployment(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, id := range []string{"d-1", "d-2", "d-3"} {
		if err := s.PutDeployment(ctx, id, json.RawMessage(`{"id":"`+id+`"}`)); err != nil {
			t.Fatal(err)
		}
	}
	end := func(id string, at time.Time, keep int) {
		t.Helper()
		if err := s.EndDeployment(ctx, id, json.RawMessage(`{"id":"`+id+`","status":"failed"}`), at, keep); err != nil {
			t.Fatalf("EndDeployment(%s): %v", id, err)
		}
	}
	end("d-1", t0, 10)
	end("d-3", t0.Add(time.Second), 10)
	end("d-3", t0.Add(time.Second), 10) // again: idempotent
	deps, err := s.Deployments(ctx)
	if err != nil || len(deps) != 1 || deps[0].ID != "d-2" {
		t.Errorf("Deployments after ending d-1 and d-3 = %v, %v; want d-2 only", deps, err)
	}
	got, err := s.DeploymentHistory(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	want := []Ended{
		{ID: "d-3", Spec: json.RawMessage(`{"id":"d-3","status":"failed"}`), FinishedAt: t0.Add(time.Second)},
		{ID: "d-1", Spec: json.RawMessage(`{"id":"d-1","status":"failed"}`), FinishedAt: t0},
	}
	timeEq := cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) })
	if diff := cmp.Diff(want, got, jsonComparer, timeEq); diff != "" {
		t.Errorf("DeploymentHistory (-want +got):\n%s", diff)
	}
	if got, _ := s.DeploymentHistory(ctx, 1); len(got) != 1 || got[0].ID != "d-3" {
		t.Errorf("DeploymentHistory(limit 1) = %v; want d-3", got)
	}

	// A deployment never stored (one that changed nothing) ends too; the
	// history keeps the newest entries only.
	end("d-4", t0.Add(2*time.Second), 2)
	got, err = s.DeploymentHistory(ctx, 10)
	if err != nil || len(got) != 2 || got[0].ID != "d-4" || got[1].ID != "d-3" {
		t.Errorf("DeploymentHistory after keeping 2 = %v, %v; want d-4, d-3", got, err)
	}

	// One transaction: a refused history entry leaves the deployment running.
	if err := s.EndDeployment(ctx, "d-2", json.RawMessage(`[1]`), t0, 10); !errors.Is(err, ErrInvalid) {
		t.Errorf("EndDeployment(not an object) = %v; want ErrInvalid", err)
	}
	if err := s.EndDeployment(ctx, "d-2", json.RawMessage(`{}`), t0, 0); !errors.Is(err, ErrInvalid) {
		t.Errorf("EndDeployment(keep 0) = %v; want ErrInvalid", err)
	}
	if deps, _ := s.Deployments(ctx); len(deps) != 1 {
		t.Errorf("Deployments after refused ends = %v; want d-2 still", deps)
	}
}

func TestInstances(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	a := InstanceRecord{TaskID: "web.2", AppID: "/web", Spec: json.RawMessage(`{"state":"TASK_STAGING"}`)}
	b := InstanceRecord{TaskID: "web.1", AppID: "/web", Spec: json.RawMessage(`{"state":"TASK_RUNNING"}`)}
	c := InstanceRecord{TaskID: "api.1", AppID: "/api", Spec: json.RawMessage(`{"state":"TASK_RUNNING"}`)}
	for _, r := range []InstanceRecord{a, b, c} {
		if err := s.PutInstance(ctx, r); err != nil {
			t.Fatalf("PutInstance(%s): %v", r.TaskID, err)
		}
	}
	a.Spec = json.RawMessage(`{"state":"TASK_RUNNING","healthy":true}`)
	if err := s.PutInstance(ctx, a); err != nil {
		t.Fatalf("PutInstance update: %v", err)
	}
	got, err := s.Instances(ctx)
	if err != nil {
		t.Fatalf("Instances: %v", err)
	}
	if diff := cmp.Diff([]InstanceRecord{c, b, a}, got, jsonComparer); diff != "" {
		t.Errorf("Instances (-want +got):\n%s", diff)
	}
	if err := s.DeleteInstance(ctx, "web.1"); err != nil {
		t.Fatalf("DeleteInstance: %v", err)
	}
	if err := s.DeleteInstance(ctx, "web.1"); err != nil {
		t.Errorf("DeleteInstance again = %v; want nil", err)
	}
	got, err = s.Instances(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]InstanceRecord{c, a}, got, jsonComparer); diff != "" {
		t.Errorf("Instances after delete (-want +got):\n%s", diff)
	}
}

func TestPutInstancesMany(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	const n = 500
	rs := make([]InstanceRecord, n)
	for i := range rs {
		rs[i] = InstanceRecord{
			TaskID: fmt.Sprintf("web.%04d", i),
			AppID:  "/web",
			Spec:   json.RawMessage(fmt.Sprintf(`{"state":"TASK_STAGING","ports":[%d]}`, 31000+i)),
		}
	}
	if err := s.PutInstances(ctx, rs); err != nil {
		t.Fatalf("PutInstances(%d): %v", n, err)
	}
	got, err := s.Instances(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(rs, got, jsonComparer); diff != "" {
		t.Errorf("Instances after PutInstances (-want +got):\n%s", diff)
	}

	// Again, all running, with one task named twice: the later record wins.
	for i := range rs {
		rs[i].Spec = json.RawMessage(`{"state":"TASK_RUNNING"}`)
	}
	dup := InstanceRecord{TaskID: rs[7].TaskID, AppID: "/web", Spec: json.RawMessage(`{"state":"TASK_FAILED"}`)}
	if err := s.PutInstances(ctx, append(rs, dup)); err != nil {
		t.Fatalf("PutInstances again with a duplicate: %v", err)
	}
	got, err = s.Instances(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rs[7] = dup
	if diff := cmp.Diff(rs, got, jsonComparer); diff != "" {
		t.Errorf("Instances after the second PutInstances (-want +got):\n%s", diff)
	}

	// All or nothing: one bad record stores none.
	bad := []InstanceRecord{{TaskID: "x.1", AppID: "/x", Spec: json.RawMessage(`{}`)}, {TaskID: "x.2", AppID: "/x", Spec: json.RawMessage(`[1]`)}}
	if err := s.PutInstances(ctx, bad); !errors.Is(err, ErrInvalid) {
		t.Errorf("PutInstances with a bad spec: err = %v; want ErrInvalid", err)
	}
	if got, err := s.Instances(ctx); err != nil || len(got) != n {
		t.Errorf("after a refused PutInstances: %d instances, %v; want %d", len(got), err, n)
	}
	if err := s.PutInstances(ctx, nil); err != nil {
		t.Errorf("PutInstances(nil) = %v; want nil", err)
	}
}

func BenchmarkPutInstances500(b *testing.B) {
	db := testpg.URL(b)
	if err := migrate.Up(b.Context(), db); err != nil {
		b.Fatal(err)
	}
	s, err := Open(b.Context(), db)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	rs := make([]InstanceRecord, 500)
	for i := range rs {
		rs[i] = InstanceRecord{TaskID: fmt.Sprintf("web.%04d", i), AppID: "/web", Spec: json.RawMessage(`{"state":"TASK_STAGING"}`)}
	}
	for b.Loop() {
		if err := s.PutInstances(b.Context(), rs); err != nil {
			b.Fatal(err)
		}
	}
}

func TestSubscriptions(t *testing.T) {
	ctx := t.Context()
	s := newStore(t)
	if err := s.Subscribe(ctx, "", "10.0.0.1"); !errors.Is(err, ErrInvalid) {
		t.Errorf("Subscribe of an empty URL = %v; want ErrInvalid", err)
	}
	for _, c := range []struct{ url, ip string }{{"http://a/e", "10.0.0.1"}, {"http://b/e", "10.0.0.2"}, {"http://a/e", "10.0.0.3"}} {
		if err := s.Subscribe(ctx, c.url, c.ip); err != nil {
			t.Fatalf("Subscribe(%s): %v", c.url, err)
		}
	}
	subs, err := s.Subscriptions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, sub := range subs {
		got = append(got, sub.CallbackURL+" "+sub.ClientIP)
	}
	if want := []string{"http://a/e 10.0.0.3", "http://b/e 10.0.0.2"}; !slices.Equal(got, want) {
		t.Errorf("Subscriptions = %v; want %v (the first subscription's place, the last client)", got, want)
	}
	for _, c := range []struct {
		url  string
		want bool
	}{{"http://a/e", true}, {"http://a/e", false}, {"http://never/e", false}} {
		if removed, err := s.Unsubscribe(ctx, c.url); err != nil || removed != c.want {
			t.Errorf("Unsubscribe(%s) = %v, %v; want %v", c.url, removed, err, c.want)
		}
	}
	if subs, err := s.Subscriptions(ctx); err != nil || len(subs) != 1 || subs[0].CallbackURL != "http://b/e" {
		t.Errorf("Subscriptions after Unsubscribe = %+v, %v; want http://b/e only", subs, err)
	}
}

func TestLaunchDelays(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	at := time.Date(2026, 2, 3, 4, 5, 6, 789000, time.UTC)
	if err := s.SetLaunchDelay(ctx, "/web", Delay{Failures: 1, LastFailure: at}); err != nil {
		t.Fatalf("SetLaunchDelay: %v", err)
	}
	if err := s.SetLaunchDelay(ctx, "/web", Delay{Failures: 2, LastFailure: at.Add(time.Second)}); err != nil {
		t.Fatalf("SetLaunchDelay again: %v", err)
	}
	if err := s.SetLaunchDelay(ctx, "/api", Delay{Failures: 0, LastFailure: at}); err != nil {
		t.Fatalf("SetLaunchDelay: %v", err)
	}
	got, err := s.LaunchDelays(ctx)
	if err != nil {
		t.Fatalf("LaunchDelays: %v", err)
	}
	want := map[string]Delay{
		"/web": {Failures: 2, LastFailure: at.Add(time.Second)},
		"/api": {Failures: 0, LastFailure: at},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("LaunchDelays (-want +got):\n%s", diff)
	}
	if err := s.ClearLaunchDelay(ctx, "/web"); err != nil {
		t.Fatalf("ClearLaunchDelay: %v", err)
	}
	if err := s.ClearLaunchDelay(ctx, "/web"); err != nil {
		t.Errorf("ClearLaunchDelay again = %v; want nil", err)
	}
	got, err = s.LaunchDelays(ctx)
	if err != nil {
		t.Fatal(err)
	}
	delete(want, "/web")
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("LaunchDelays after clear (-want +got):\n%s", diff)
	}
}

func TestAtomically(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	spec := json.RawMessage(`{"cmd":"sleep 1"}`)

	// A committed transaction writes everything.
	err := s.Atomically(ctx, func(tx *Tx) error {
		if err := tx.PutApp(ctx, "/web", "v1", spec); err != nil {
			return err
		}
		if err := tx.PutDeployment(ctx, "d1", json.RawMessage(`{"affectedApps":["/web"]}`)); err != nil {
			return err
		}
		return tx.SetFrameworkID(ctx, "fw-1")
	})
	if err != nil {
		t.Fatalf("Atomically: %v", err)
	}
	if _, err := s.App(ctx, "/web"); err != nil {
		t.Errorf("App after commit: %v", err)
	}
	if deps, err := s.Deployments(ctx); len(deps) != 1 || err != nil {
		t.Errorf("Deployments after commit = %v, %v; want one", deps, err)
	}

	// A failing fn writes nothing, and its error comes back as is.
	boom := errors.New("boom")
	err = s.Atomically(ctx, func(tx *Tx) error {
		steps := []error{
			tx.PutApp(ctx, "/web", "v2", json.RawMessage(`{"cmd":"sleep 2"}`)),
			tx.DeleteDeployment(ctx, "d1"),
			tx.PutDeployment(ctx, "d2", spec),
			tx.PutGroup(ctx, "/g", "v1", spec),
			tx.PutInstances(ctx, []InstanceRecord{{TaskID: "web.1", AppID: "/web", Spec: spec}}),
			tx.SetLaunchDelay(ctx, "/web", Delay{Failures: 1, LastFailure: time.Now()}),
			tx.SetFrameworkID(ctx, "fw-2"),
		}
		for i, err := range steps {
			if err != nil {
				t.Errorf("step %d in transaction: %v", i, err)
			}
		}
		return boom
	})
	if err != boom {
		t.Fatalf("Atomically(fn returning boom) = %v; want boom itself", err)
	}
	checkUnchanged := func(when string) {
		t.Helper()
		if a, err := s.App(ctx, "/web"); err != nil || a.Version != "v1" {
			t.Errorf("%s: app = %+v, %v; want version v1", when, a, err)
		}
		if vs, err := s.AppVersions(ctx, "/web"); err != nil || !cmp.Equal(vs, []string{"v1"}) {
			t.Errorf("%s: versions = %v, %v; want [v1]", when, vs, err)
		}
		if deps, err := s.Deployments(ctx); err != nil || len(deps) != 1 || deps[0].ID != "d1" {
			t.Errorf("%s: deployments = %v, %v; want d1 only", when, deps, err)
		}
		if gs, err := s.Groups(ctx); err != nil || len(gs) != 0 {
			t.Errorf("%s: groups = %v, %v; want none", when, gs, err)
		}
		if is, err := s.Instances(ctx); err != nil || len(is) != 0 {
			t.Errorf("%s: instances = %v, %v; want none", when, is, err)
		}
		if ds, err := s.LaunchDelays(ctx); err != nil || len(ds) != 0 {
			t.Errorf("%s: launch delays = %v, %v; want none", when, ds, err)
		}
		if id, err := s.FrameworkID(ctx); err != nil || id != "fw-1" {
			t.Errorf("%s: framework id = %q, %v; want fw-1", when, id, err)
		}
	}
	checkUnchanged("after a failed transaction")

	// A panicking fn writes nothing either.
	func() {
		defer func() {
			if recover() == nil {
				t.Error("Atomically swallowed fn's panic")
			}
		}()
		_ = s.Atomically(ctx, func(tx *Tx) error {
			if err := tx.DeleteApp(ctx, "/web"); err != nil {
				t.Errorf("DeleteApp in transaction: %v", err)
			}
			panic("fn panics")
		})
	}()
	checkUnchanged("after a panicking transaction")

	// A statement error inside the transaction aborts it: later statements
	// fail and nothing is committed.
	err = s.Atomically(ctx, func(tx *Tx) error {
		if err := tx.ClearLaunchDelay(ctx, "/web"); err != nil {
			return err
		}
		if err := tx.DeleteInstance(ctx, "nope"); err != nil {
			return err
		}
		if err := tx.SetLaunchDelay(ctx, "/web", Delay{Failures: 1, LastFailure: time.Now()}); err != nil {
			return err
		}
		// Violates the check constraint, bypassing the Go validation.
		_, err := tx.tx.Exec(ctx, `UPDATE services.launch_delays SET failures = -1`)
		return err
	})
	if !Permanent(err) {
		t.Errorf("Atomically with a check violation = %v; want a permanent error", err)
	}
	checkUnchanged("after a transaction with a failed statement")
}

func TestInvalidArguments(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	ok := json.RawMessage(`{}`)
	now := time.Now()
	cases := []struct {
		name string
		err  error
	}{
		{"SetFrameworkID empty", s.SetFrameworkID(ctx, "")},
		{"PutApp empty id", s.PutApp(ctx, "", "v", ok)},
		{"PutApp empty version", s.PutApp(ctx, "/a", "", ok)},
		{"PutApp bad JSON", s.PutApp(ctx, "/a", "v", json.RawMessage(`{`))},
		{"PutApp nil spec", s.PutApp(ctx, "/a", "v", nil)},
		{"PutApp array spec", s.PutApp(ctx, "/a", "v", json.RawMessage(` [1]`))},
		{"PutApp null spec", s.PutApp(ctx, "/a", "v", json.RawMessage(`null`))},
		{"PutGroup empty id", s.PutGroup(ctx, "", "v", ok)},
		{"PutGroup empty version", s.PutGroup(ctx, "/g", "", ok)},
		{"PutGroup string spec", s.PutGroup(ctx, "/g", "v", json.RawMessage(`"x"`))},
		{"PutDeployment empty id", s.PutDeployment(ctx, "", ok)},
		{"PutDeployment bad JSON", s.PutDeployment(ctx, "d", json.RawMessage(`nope`))},
		{"PutInstance empty task", s.PutInstance(ctx, InstanceRecord{AppID: "/a", Spec: ok})},
		{"PutInstance empty app", s.PutInstance(ctx, InstanceRecord{TaskID: "t", Spec: ok})},
		{"PutInstance nil spec", s.PutInstance(ctx, InstanceRecord{TaskID: "t", AppID: "/a"})},
		{"SetLaunchDelay empty app", s.SetLaunchDelay(ctx, "", Delay{LastFailure: now})},
		{"SetLaunchDelay negative", s.SetLaunchDelay(ctx, "/a", Delay{Failures: -1, LastFailure: now})},
		{"SetLaunchDelay zero time", s.SetLaunchDelay(ctx, "/a", Delay{Failures: 1})},
	}
	for _, c := range cases {
		if !errors.Is(c.err, ErrInvalid) {
			t.Errorf("%s: err = %v; want ErrInvalid", c.name, c.err)
		}
	}
	// Nothing was stored by any of them.
	if apps, err := s.Apps(ctx); len(apps) != 0 || err != nil {
		t.Errorf("Apps after invalid calls = %v, %v; want none", apps, err)
	}
}

func TestPermanent(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	_, notFound := s.App(ctx, "/nope")
	// A data error (22P02, invalid text representation) raised by Postgres.
	_, dataErr := s.pool.Exec(ctx, `SELECT 'x'::int`)
	// An integrity error (23505, unique violation) raised by Postgres.
	_, uniqueErr := s.pool.Exec(ctx, `INSERT INTO services.groups (id, version, spec) VALUES ('/g', 'v', '{}'), ('/g', 'v', '{}')`)
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	_, canceledErr := s.Apps(canceled)
	_, undefinedErr := s.pool.Exec(ctx, `SELECT * FROM services.nope`)

	cases := []struct {
		name string
		err  error
		want bool
	}{
		{"invalid argument", s.PutApp(ctx, "", "v", json.RawMessage(`{}`)), true},
		{"not found", notFound, true},
		{"data exception", fmt.Errorf("wrapped: %w", dataErr), true},
		{"unique violation", uniqueErr, true},
		{"check violation", &pgconn.PgError{Code: "23514"}, true},
		{"serialization failure", &pgconn.PgError{Code: "40001"}, false},
		{"admin shutdown", &pgconn.PgError{Code: "57P01"}, false},
		{"undefined table", undefinedErr, false},
		{"canceled context", canceledErr, false},
		{"plain error", errors.New("connection refused"), false},
		{"nil", nil, false},
	}
	for _, c := range cases {
		if c.err == nil && c.name != "nil" {
			t.Errorf("%s: the setup produced no error", c.name)
			continue
		}
		if got := Permanent(c.err); got != c.want {
			t.Errorf("Permanent(%s: %v) = %v; want %v", c.name, c.err, got, c.want)
		}
	}
	if !errors.Is(canceledErr, context.Canceled) {
		t.Errorf("Apps(canceled ctx) err = %v; want context.Canceled", canceledErr)
	}
}

func TestOpenIsLazy(t *testing.T) {
	// Nothing listens on port 1: Open must still succeed, calls must fail.
	s, err := Open(t.Context(), "postgres://postgres@127.0.0.1:1/x?sslmode=disable&connect_timeout=1")
	if err != nil {
		t.Fatalf("Open with an unreachable database: %v", err)
	}
	defer s.Close()
	if err := s.Ping(t.Context()); err == nil {
		t.Error("Ping to an unreachable database = nil; want an error")
	}
	if err := s.PutApp(t.Context(), "/a", "v", json.RawMessage(`{}`)); err == nil || Permanent(err) {
		t.Errorf("PutApp on an unreachable database = %v; want a transient error", err)
	}
	if _, err := Open(t.Context(), "postgres://%zz"); err == nil {
		t.Error("Open with a malformed URL = nil error")
	}
}

func TestSurvivesPostgresRestart(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	spec := json.RawMessage(`{"cmd":"sleep 1"}`)
	if err := s.PutApp(ctx, "/a", "v1", spec); err != nil {
		t.Fatal(err)
	}
	// Hold a few connections so the pool has some to lose.
	if _, err := s.Instances(ctx); err != nil {
		t.Fatal(err)
	}

	testpg.Stop(t)
	if err := s.Ping(ctx); err == nil {
		t.Error("Ping while postgres is stopped = nil; want an error")
	}
	if err := s.PutApp(ctx, "/b", "v1", spec); err == nil {
		t.Error("PutApp while postgres is stopped = nil; want an error")
	} else if Permanent(err) {
		t.Errorf("PutApp while postgres is stopped = %v; want a transient error", err)
	}
	if err := s.Atomically(ctx, func(tx *Tx) error { return tx.PutApp(ctx, "/b", "v1", spec) }); err == nil || Permanent(err) {
		t.Errorf("Atomically while postgres is stopped = %v; want a transient error", err)
	}
	testpg.Start(t)

	// The pool may hand out a connection broken by the restart once; the
	// caller retries, on the same Store.
	retry := func(name string, op func() error) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		var err error
		for time.Now().Before(deadline) {
			if err = op(); err == nil {
				return
			}
			if Permanent(err) {
				t.Fatalf("%s after restart: permanent error %v", name, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Fatalf("%s after restart: %v", name, err)
	}
	retry("PutApp", func() error { return s.PutApp(ctx, "/b", "v1", spec) })
	retry("Atomically", func() error {
		return s.Atomically(ctx, func(tx *Tx) error {
			return tx.PutInstances(ctx, []InstanceRecord{{TaskID: "b.1", AppID: "/b", Spec: spec}})
		})
	})
	apps, err := s.Apps(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(apps) != 2 {
		t.Errorf("after restart: %d apps; want 2", len(apps))
	}
}

func TestMigrationDownUp(t *testing.T) {
	db := testpg.URL(t)
	ctx := t.Context()
	if err := migrate.Up(ctx, db); err != nil {
		t.Fatal(err)
	}
	s, err := Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	tables := func() []string {
		t.Helper()
		rows, err := s.pool.Query(ctx, `
			SELECT table_name FROM information_schema.tables
			WHERE table_schema = 'services' ORDER BY table_name`)
		if err != nil {
			t.Fatal(err)
		}
		names, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		return names
	}
	want := []string{"app_versions", "apps", "deployment_history", "deployments", "event_subscriptions", "framework", "groups", "instances", "launch_delays", "term"}
	if diff := cmp.Diff(want, tables()); diff != "" {
		t.Errorf("services tables after Up (-want +got):\n%s", diff)
	}
	if err := s.PutApp(ctx, "/a", "v1", json.RawMessage(`{}`)); err != nil {
		t.Fatal(err)
	}
	if err := migrate.Down(ctx, db); err != nil {
		t.Fatal(err)
	}
	if got := tables(); len(got) != 0 {
		t.Errorf("services tables after Down = %v; want none", got)
	}
	if err := migrate.Up(ctx, db); err != nil {
		t.Fatal(err)
	}
	if apps, err := s.Apps(ctx); err != nil || len(apps) != 0 {
		t.Errorf("Apps after Down and Up = %v, %v; want none", apps, err)
	}
}

// An instance that began a term fences off every write of the earlier
// ones, and its own writes go through; a fenced write ends the deposed
// term's context.
func TestTermsFenceEarlierInstances(t *testing.T) {
	ctx := t.Context()
	db := testpg.URL(t)
	if err := migrate.Up(ctx, db); err != nil {
		t.Fatal(err)
	}
	old, err := Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(old.Close)
	next, err := Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(next.Close)
	spec := json.RawMessage(`{"id": "/web"}`)

	e1, err := old.BeginTerm(ctx)
	if err != nil {
		t.Fatal(err)
	}
	term, stop := old.Fence().Context(ctx)
	defer stop()
	if err := old.PutApp(ctx, "/web", "v1", spec); err != nil {
		t.Fatalf("write in the current term: %v", err)
	}
	e2, err := next.BeginTerm(ctx)
	if err != nil || e2 <= e1 {
		t.Fatalf("BeginTerm = %d, %v; want an epoch above %d", e2, err, e1)
	}
	inst := InstanceRecord{TaskID: "web.1", AppID: "/web", Spec: json.RawMessage(`{"state": "running"}`)}
	for _, w := range []struct {
		name  string
		write func(*Store) error
	}{
		{"PutApp", func(s *Store) error { return s.PutApp(ctx, "/web", "v2", spec) }},
		{"DeleteApp", func(s *Store) error { return s.DeleteApp(ctx, "/web") }},
		{"PutDeployment", func(s *Store) error { return s.PutDeployment(ctx, "d1", spec) }},
		{"DeleteDeployment", func(s *Store) error { return s.DeleteDeployment(ctx, "d1") }},
		{"PutInstances", func(s *Store) error { return s.PutInstances(ctx, []InstanceRecord{inst}) }},
		{"DeleteInstance", func(s *Store) error { return s.DeleteInstance(ctx, "web.1") }},
		{"SetFrameworkID", func(s *Store) error { return s.SetFrameworkID(ctx, "fw") }},
		{"PutGroup", func(s *Store) error { return s.PutGroup(ctx, "/g", "v1", spec) }},
		{"SetLaunchDelay", func(s *Store) error {
			return s.SetLaunchDelay(ctx, "/web", Delay{Failures: 1, LastFailure: time.Now()})
		}},
		{"Atomically", func(s *Store) error {
			return s.Atomically(ctx, func(tx *Tx) error { return tx.PutApp(ctx, "/web", "v3", spec) })
		}},
		{"Subscribe", func(s *Store) error { return s.Subscribe(ctx, "http://h/e", "10.0.0.1") }},
		{"Unsubscribe", func(s *Store) error { _, err := s.Unsubscribe(ctx, "http://h/e"); return err }},
	} {
		err := w.write(old)
		if !errors.Is(err, ErrFenced) || !Permanent(err) {
			t.Errorf("%s by the deposed instance = %v; want a permanent ErrFenced", w.name, err)
		}
	}
	if !errors.Is(context.Cause(term), ErrFenced) {
		t.Errorf("the deposed term's context: cause %v; want ErrFenced", context.Cause(term))
	}
	apps, err := next.Apps(ctx)
	if err != nil || len(apps) != 1 || apps[0].Version != "v1" {
		t.Fatalf("apps after fenced writes = %+v, %v; want /web at v1 only", apps, err)
	}
	if insts, err := next.Instances(ctx); err != nil || len(insts) != 0 {
		t.Errorf("instances after fenced writes = %+v, %v; want none", insts, err)
	}
	if err := next.PutApp(ctx, "/web", "v2", spec); err != nil {
		t.Errorf("write in the new term: %v", err)
	}
	if err := next.PutInstances(ctx, []InstanceRecord{inst}); err != nil {
		t.Errorf("write in the new term: %v", err)
	}
}
