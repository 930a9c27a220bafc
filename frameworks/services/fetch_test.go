package services

import (
	"testing"

	"corral/frameworks/services/app"
	"corral/frameworks/services/plan"
	"corral/kernel/mesos"
	"corral/kernel/resource"

	"github.com/google/go-cmp/cmp"
)

// TestTaskInfoFetch: an app's fetch becomes the command's URIs, every
// field given; legacy uris take Mesos' defaults. The master accepts them.
func TestTaskInfoFetch(t *testing.T) {
	p := plan.Placement{OfferID: "o1", AgentID: "a1", Hostname: "h1", Resources: resource.Scalar(resource.CPUs, 1)}
	decode := func(body string) app.App {
		t.Helper()
		a, err := app.Decode([]byte(body))
		if err != nil {
			t.Fatal(err)
		}
		a.Normalize()
		if v := app.Validate(a); v != nil {
			t.Fatalf("app.Validate(%s) = %v", body, v)
		}
		return a
	}
	tr, fa := true, false
	a := decode(`{"id":"/f","cmd":"./run","fetch":[{"uri":"https://h/app.tgz"},{"uri":"http://h/run","executable":true,"cache":true,"destPath":"bin/run"}]}`)
	got := taskInfo(a, app.NewTaskID(a.ID), "*", p).Command.URIs
	want := []mesos.CommandURI{
		{Value: "https://h/app.tgz", Executable: &fa, Extract: &tr, Cache: &fa},
		{Value: "http://h/run", Executable: &tr, Extract: &tr, Cache: &tr, OutputFile: "bin/run"},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("taskInfo(fetch) uris (-want +got):\n%s", d)
	}
	for _, u := range got {
		if pr := u.Problem(); pr != "" {
			t.Errorf("the master would refuse %s: %s", u.Value, pr)
		}
	}
	legacy := decode(`{"id":"/l","cmd":"x","uris":["https://h/a.tgz"]}`)
	if got := taskInfo(legacy, app.NewTaskID(legacy.ID), "*", p).Command.URIs; !cmp.Equal(got, []mesos.CommandURI{{Value: "https://h/a.tgz"}}) {
		t.Errorf("taskInfo(uris) uris = %+v; want the URI with Mesos' defaults", got)
	}
	plain := decode(`{"id":"/p","cmd":"x"}`)
	if got := taskInfo(plain, app.NewTaskID(plain.ID), "*", p).Command.URIs; got != nil {
		t.Errorf("taskInfo(no fetch) uris = %+v; want none", got)
	}
}
