package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"corral/internal/cli"
	"corral/internal/edge"
	"corral/internal/localpg"
)

// TestDevSecure starts `corral dev --secure` and uses it as its printed
// instructions say: the CLI over TLS with the operator's credential
// deploys an app whose tasks run as nobody; an app as root never runs and
// says why; anonymous and plain-HTTP callers, and clients that do not
// trust the CA, are refused.
func TestDevSecure(t *testing.T) {
	if _, err := localpg.FindBinDir(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("corral dev needs PostgreSQL binaries: %v", err)
		}
		t.Skip(err)
	}
	if os.Geteuid() != 0 {
		t.Skip("the agents switch users: run as root")
	}
	dir := t.TempDir()
	for d := dir; d != os.TempDir() && d != "/"; d = filepath.Dir(d) {
		_ = os.Chmod(d, 0o755)
	}
	o := devOptions{dir: filepath.Join(dir, "state"), host: "127.0.0.1", agents: 1, taskPorts: "39400-39499", secure: true,
		pgPort: devFreePorts(t, 1), port: devFreePorts(t, 1), agentPort: devFreePorts(t, 1), servicesPort: devFreePorts(t, 1), jobsPort: devFreePorts(t, 1)}
	ctx, cancel := context.WithCancel(t.Context())
	logs := &lockedBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	errc := make(chan error, 1)
	go func() { errc <- runDev(ctx, cancel, o, log, logs) }()
	t.Cleanup(func() {
		cancel()
		<-errc
		if t.Failed() {
			t.Logf("corral dev log:\n%s", logs.String())
		}
	})
	secure := filepath.Join(o.dir, "secure")
	ca := filepath.Join(secure, "tls", "ca.pem")
	// The credentials are written first, the CA after them.
	waitFile(t, filepath.Join(secure, "ops.json"))
	waitFile(t, ca)
	b, err := os.ReadFile(filepath.Join(secure, "ops.json"))
	if err != nil {
		t.Fatal(err)
	}
	ops, err := edge.ParseCredential(b)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := edge.Transport(edge.TLSFiles{CA: ca})
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Timeout: 5 * time.Second, Transport: ops.RoundTripper(tr)}
	master, svc := "https://127.0.0.1:"+strconv.Itoa(o.port), "https://127.0.0.1:"+strconv.Itoa(o.servicesPort)
	wctx, wcancel := context.WithTimeout(ctx, time.Minute)
	defer wcancel()
	if err := awaitDev(wctx, client, master, o.agents, []string{svc + "/ping"}); err != nil {
		t.Fatalf("corral dev --secure did not come up: %v", err)
	}
	for !strings.Contains(logs.String(), "CORRAL_PRINCIPAL=ops CORRAL_SECRET="+ops.Secret) {
		if wctx.Err() != nil {
			t.Fatal("corral dev --secure does not print the operator's credential and how to use it")
		}
		time.Sleep(50 * time.Millisecond)
	}

	// Refused: anonymous, plain HTTP, a client that does not trust the CA.
	anon := &http.Client{Timeout: 5 * time.Second, Transport: tr}
	if resp, err := anon.Get(svc + "/v2/apps"); err != nil || resp.StatusCode != 401 {
		t.Errorf("anonymous GET /v2/apps = %v, %v; want 401", status(resp), err)
	}
	if resp, err := http.Get("http://127.0.0.1:" + strconv.Itoa(o.servicesPort) + "/v2/apps"); err == nil && resp.StatusCode < 400 {
		t.Errorf("plain HTTP GET /v2/apps = %d; want it refused", resp.StatusCode)
	}
	if _, err := (&http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{}}}).Get(svc + "/ping"); err == nil {
		t.Error("a client that does not trust the dev CA got an answer; want a certificate error")
	}

	// The CLI, configured as corral dev --secure says.
	env := map[string]string{"CORRAL_PRINCIPAL": ops.Principal, "CORRAL_SECRET": ops.Secret, "CORRAL_TLS_CA": ca,
		"CORRAL_MASTER": master, "CORRAL_SERVICES": svc, "CORRAL_JOBS": "https://127.0.0.1:" + strconv.Itoa(o.jobsPort)}
	run := func(args ...string) (int, string) {
		var out, errb bytes.Buffer
		code := cli.Run(ctx, args, cli.Env{Stdout: &out, Stderr: &errb, Getenv: func(k string) string { return env[k] }, PollInterval: 100 * time.Millisecond})
		return code, out.String() + errb.String()
	}
	app := filepath.Join(dir, "whoami.json")
	if err := os.WriteFile(app, []byte(`{"id": "/whoami", "cmd": "id -un; sleep 600", "instances": 1, "cpus": 0.05, "mem": 16, "user": "nobody"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, out := run("app", "deploy", app); code != 0 {
		t.Fatalf("corral app deploy = %d:\n%s", code, out)
	}
	var tasks []struct {
		ID string `json:"id"`
	}
	code, out := run("task", "list", "--app", "/whoami", "--json")
	if code != 0 || json.Unmarshal([]byte(out), &tasks) != nil || len(tasks) != 1 {
		t.Fatalf("corral task list = %d %s", code, out)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, out = run("task", "logs", tasks[0].ID)
		if code == 0 && strings.Contains(out, "nobody") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the task's stdout through corral task logs = %d %q; want it to say it runs as nobody", code, out)
		}
		time.Sleep(200 * time.Millisecond)
	}

	// As root, without an ACL that allows it: never runs, and says why.
	root := filepath.Join(dir, "root.json")
	if err := os.WriteFile(root, []byte(`{"id": "/as-root", "cmd": "sleep 600", "instances": 1, "cpus": 0.05, "mem": 16, "user": "root"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, out := run("app", "deploy", "--detach", root); code != 0 {
		t.Fatalf("corral app deploy --detach = %d:\n%s", code, out)
	}
	deadline = time.Now().Add(30 * time.Second)
	for {
		var a struct {
			App struct {
				TasksRunning    int `json:"tasksRunning"`
				LastTaskFailure *struct {
					Message string `json:"message"`
				} `json:"lastTaskFailure"`
			} `json:"app"`
		}
		resp, err := client.Get(svc + "/v2/apps/as-root")
		if err == nil {
			_ = json.NewDecoder(resp.Body).Decode(&a)
			resp.Body.Close()
		}
		if a.App.TasksRunning != 0 {
			t.Fatalf("an app as root runs %d tasks; want none", a.App.TasksRunning)
		}
		if f := a.App.LastTaskFailure; f != nil && strings.Contains(f.Message, "may not run as root") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("app as root: lastTaskFailure = %+v; want it to say tasks may not run as root", a.App.LastTaskFailure)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func status(resp *http.Response) int {
	if resp == nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

func waitFile(t *testing.T, path string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := os.Stat(path); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not appear", path)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
