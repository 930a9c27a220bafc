package apiclient

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestErrorsAndTypedCalls(t *testing.T) {
	var gotBody string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		gotBody = string(b)
		switch r.Method + " " + r.URL.Path {
		case "PATCH /v2/apps/nope":
			w.WriteHeader(404)
			io.WriteString(w, `{"message":"App '/nope' does not exist"}`)
		case "PATCH /v2/apps/locked":
			w.WriteHeader(409)
			io.WriteString(w, `{"message":"App is locked","deployments":[{"id":"d-1"},{"id":"d-2"}]}`)
		case "PUT /v2/apps/bad":
			w.WriteHeader(422)
			io.WriteString(w, `{"message":"Object is not valid","details":[{"path":"/cpus","errors":["must be 0 or more"]}]}`)
		case "PATCH /v2/apps/web":
			w.Header().Set("Marathon-Deployment-Id", "d-3")
			io.WriteString(w, `{"deploymentId":"d-3","version":"V2","warnings":["unknown field \"/intances\" ignored"]}`)
		case "GET /v2/apps/web":
			io.WriteString(w, `{"app":{"id":"/web","cmd":"sleep 1","instances":2,"tasks":[{"id":"t1","healthCheckResults":[{"alive":true},{"alive":false}]}]}}`)
		default:
			w.WriteHeader(500)
			io.WriteString(w, "not text JSON")
		}
	}))
	defer srv.Close()
	ctx := context.Background()
	s := NewServices(srv.URL+"/", nil)

	_, err := s.Scale(ctx, "/nope", 3, false)
	if !IsStatus(err, 404) || err.Error() != "App '/nope' does not exist (services API, HTTP 404)" {
		t.Errorf("Scale(/nope) = %v; want a 404 naming the app", err)
	}
	if gotBody != `{"instances":3}` {
		t.Errorf("Scale sent %q; want {\"instances\":3}", gotBody)
	}
	_, err = s.PatchApp(ctx, "locked", map[string]any{}, false)
	var ae *Error
	if !errors.As(err, &ae) || strings.Join(ae.Deployments, ",") != "d-1,d-2" || !strings.Contains(err.Error(), "locked by deployment(s) d-1, d-2") {
		t.Errorf("PatchApp(locked) = %v; want a 409 naming d-1 and d-2", err)
	}
	_, err = s.ReplaceApp(ctx, "/bad", []byte(`{"cpus":-1}`), false)
	if !errors.As(err, &ae) || len(ae.Details) != 1 || ae.Details[0].Path != "/cpus" || !strings.Contains(err.Error(), "\n  /cpus: must be 0 or more") {
		t.Errorf("ReplaceApp(bad) = %v; want a 422 with the detail on /cpus", err)
	}
	ch, err := s.Scale(ctx, "web", 2, true)
	if err != nil || ch.DeploymentID != "d-3" || ch.Version != "V2" || len(ch.Warnings) != 1 {
		t.Errorf("Scale(web) = %+v, %v; want d-3, V2 and one warning", ch, err)
	}
	a, err := s.App(ctx, "/web")
	if err != nil || a.Command() != "sleep 1" || len(a.Tasks) != 1 || a.Tasks[0].Healthy() == nil || *a.Tasks[0].Healthy() {
		t.Errorf("App(/web) = %+v, %v; want sleep 1 with one task not healthy", a, err)
	}
	_, err = NewJobs(srv.URL, nil).Job(ctx, "x")
	if !errors.As(err, &ae) || ae.Status != 500 || ae.Message != "not text JSON" {
		t.Errorf("Job(x) = %v; want a 500 whose text body is the message", err)
	}

	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	_, err = NewMaster("http://"+addr, nil).State(ctx)
	if !IsUnreachable(err) || !strings.Contains(err.Error(), "cannot reach the master API at http://"+addr) {
		t.Errorf("State() of a closed port = %v; want Unreachable", err)
	}
}
