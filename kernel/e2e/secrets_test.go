package e2e

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"corral/internal/testcluster"
	"corral/kernel/mesos"
)

// rawFramework is a v1 scheduler speaking plain HTTP + JSON, keeping every
// byte of its event stream as received.
type rawFramework struct {
	t      *testing.T
	master string
	id     string
	stream string

	mu     sync.Mutex
	raw    bytes.Buffer // the event stream, RecordIO framing included
	events chan mesos.Event
}

// lockedBuffer appends to the framework's raw stream under its lock.
type lockedBuffer struct{ f *rawFramework }

func (w lockedBuffer) Write(p []byte) (int, error) {
	w.f.mu.Lock()
	defer w.f.mu.Unlock()
	return w.f.raw.Write(p)
}

func subscribeRaw(t *testing.T, master string, info mesos.FrameworkInfo) *rawFramework {
	t.Helper()
	body, _ := json.Marshal(mesos.Call{Type: mesos.CallSubscribe, Subscribe: &mesos.Subscribe{FrameworkInfo: info}})
	req, _ := http.NewRequest(http.MethodPost, master+"/api/v1/scheduler", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("SUBSCRIBE = %d %s", resp.StatusCode, b)
	}
	f := &rawFramework{t: t, master: master, stream: resp.Header.Get("Mesos-Stream-Id"), events: make(chan mesos.Event, 1024)}
	go func() {
		defer close(f.events)
		rd := mesos.NewReader(io.TeeReader(resp.Body, lockedBuffer{f}))
		for {
			rec, err := rd.Next()
			if err != nil {
				return
			}
			var ev mesos.Event
			if json.Unmarshal(rec, &ev) == nil {
				f.events <- ev
			}
		}
	}()
	ev := f.next(mesos.EventSubscribed)
	f.id = ev.Subscribed.FrameworkID.Value
	return f
}

// next returns the next event of one of types.
func (f *rawFramework) next(types ...mesos.EventType) mesos.Event {
	f.t.Helper()
	deadline := time.After(60 * time.Second)
	for {
		select {
		case ev, ok := <-f.events:
			if !ok {
				f.t.Fatalf("the event stream ended waiting for %v", types)
			}
			for _, ty := range types {
				if ev.Type == ty {
					return ev
				}
			}
		case <-deadline:
			f.t.Fatalf("no %v event", types)
		}
	}
}

// call sends a scheduler call of the framework; it must be accepted.
func (f *rawFramework) call(c mesos.Call) {
	f.t.Helper()
	c.FrameworkID = &mesos.ID{Value: f.id}
	body, _ := json.Marshal(c)
	req, _ := http.NewRequest(http.MethodPost, f.master+"/api/v1/scheduler", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Mesos-Stream-Id", f.stream)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		b, _ := io.ReadAll(resp.Body)
		f.t.Fatalf("%s = %d %s", c.Type, resp.StatusCode, b)
	}
}

func (f *rawFramework) received() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.raw.String()
}

// randomText is a value no process would print by chance.
func randomText(t *testing.T, prefix string) string {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return prefix + hex.EncodeToString(b)
}

// httpGet returns the body of GET url, which must answer 200.
func httpGet(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s = %d %s", url, resp.StatusCode, b)
	}
	return string(b)
}

// TestTaskSecrets: a secret stored in the master reaches the environment
// of the task that references it, through real master and agent
// processes, and the value is nowhere else: not in any API answer, not in
// the framework's event stream, not in either process's log, not in any
// file of the agent's work dir but the task's own stdout. The same holds
// for a secret the framework gives inline. Both reach the task as files
// too (secret volumes), which live outside the work dir, are served by
// no API, and are gone once the task ends.
func TestTaskSecrets(t *testing.T) {
	keyFile := filepath.Join(t.TempDir(), "secrets.key")
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, []byte(hex.EncodeToString(key)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := testcluster.Start(t, testcluster.Options{MasterArgs: []string{"--secrets_key", keyFile, "--log_level", "debug"}})
	// The agent as testcluster starts one, but logging at debug level.
	addr := testcluster.FreeAddr(t)
	workDir := testcluster.SearchableDir(t)
	secretsDir := filepath.Join(t.TempDir(), "secrets")
	agentURL := "http://" + addr
	agent := testcluster.StartProc(t, "agent-0", "agent", "--master", c.MasterFlag, "--listen", addr, "--advertise", agentURL,
		"--work_dir", workDir, "--resources", "cpus:2;mem:1024;disk:1000;ports:[31000-31099]", "--attributes", "rack:r0",
		"--hostname", "agent0.test", "--switch_user=false", "--log_level", "debug", "--secrets_dir", secretsDir)
	t.Cleanup(func() { testcluster.KillSandboxProcs(workDir) })
	c.WaitAgents(1)

	stored, inline := randomText(t, "db-"), randomText(t, "inline-")
	resp, err := http.DefaultClient.Do(func() *http.Request {
		req, _ := http.NewRequest(http.MethodPut, c.URL+"/secrets/team/db", strings.NewReader(`{"value": "`+stored+`"}`))
		req.Header.Set("Content-Type", "application/json")
		return req
	}())
	if err != nil {
		t.Fatal(err)
	}
	putBody, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("PUT /secrets/team/db = %d %s", resp.StatusCode, putBody)
	}

	f := subscribeRaw(t, c.URL, plainInfo("secrets"))
	offer := f.next(mesos.EventOffers).Offers.Offers[0]
	ti := shellTask("app", `echo "db=$DB_PASSWORD"; echo "inline=$INLINE_TOKEN"; echo "file=$(cat conf/db.pw) $(cat token)"; exec sleep 600`, 0.1, 32)
	ti.Container = &mesos.ContainerInfo{Type: mesos.ContainerMesos, Volumes: []mesos.Volume{
		{ContainerPath: "conf/db.pw", Mode: mesos.VolumeRO, Source: &mesos.VolumeSource{Type: mesos.VolumeSourceSecret,
			Secret: &mesos.Secret{Type: mesos.SecretReferenceType, Reference: &mesos.SecretReference{Name: "team/db"}}}},
		{ContainerPath: "token", Mode: mesos.VolumeRO, Source: &mesos.VolumeSource{Type: mesos.VolumeSourceSecret,
			Secret: &mesos.Secret{Type: mesos.SecretValueType, Value: &mesos.SecretValue{Data: []byte(inline)}}}},
	}}
	ti.AgentID = offer.AgentID
	ti.Command.Environment = &mesos.Environment{Variables: []mesos.Variable{
		{Name: "DB_PASSWORD", Type: mesos.VariableSecret, Secret: &mesos.Secret{Type: mesos.SecretReferenceType,
			Reference: &mesos.SecretReference{Name: "team/db"}}},
		{Name: "INLINE_TOKEN", Type: mesos.VariableSecret, Secret: &mesos.Secret{Type: mesos.SecretValueType,
			Value: &mesos.SecretValue{Data: []byte(inline)}}},
	}}
	f.call(mesos.Call{Type: mesos.CallAccept, Accept: &mesos.Accept{OfferIDs: []mesos.ID{offer.ID},
		Operations: []mesos.Operation{{Type: mesos.OpLaunch, Launch: &mesos.Launch{TaskInfos: []mesos.TaskInfo{ti}}}}}})
	// until reads the task's updates, acknowledging each, until one is in
	// state.
	until := func(state mesos.TaskState) mesos.TaskStatus {
		t.Helper()
		for {
			st := f.next(mesos.EventUpdate).Update.Status
			if st.UUID != "" {
				f.call(mesos.Call{Type: mesos.CallAcknowledge, Acknowledge: &mesos.Acknowledge{
					AgentID: *st.AgentID, TaskID: st.TaskID, UUID: st.UUID}})
			}
			if st.State == state {
				return st
			}
			if st.State.Terminal() {
				t.Fatalf("task ended %s (%s): %q; want %s", st.State, st.Reason, st.Message, state)
			}
		}
	}
	until(mesos.TaskRunning)

	// The task printed both values: it had them in its environment.
	sandbox := filepath.Join(workDir, "sandboxes", f.id, "app")
	stdout := filepath.Join(sandbox, "stdout")
	want := "db=" + stored + "\ninline=" + inline + "\nfile=" + stored + " " + inline + "\n"
	testcluster.Eventually(t, 30*time.Second, func() bool {
		b, _ := os.ReadFile(stdout)
		return string(b) == want
	}, "the task's stdout to be %q", want)

	values := []string{stored, inline, base64.StdEncoding.EncodeToString([]byte(stored)), base64.StdEncoding.EncodeToString([]byte(inline))}
	// check looks for the values everywhere but in the task's stdout.
	check := func(stage string) {
		t.Helper()
		where := map[string]string{
			"PUT /secrets/team/db":                string(putBody),
			"master GET /state":                   httpGet(t, c.URL+"/state"),
			"master GET /master/state.json":       httpGet(t, c.URL+"/master/state.json"),
			"master GET /console/state":           httpGet(t, c.URL+"/console/state"),
			"master GET /metrics":                 httpGet(t, c.URL+"/metrics"),
			"master GET /secrets":                 httpGet(t, c.URL+"/secrets"),
			"master GET /secrets/team/db":         httpGet(t, c.URL+"/secrets/team/db"),
			"agent GET /state":                    httpGet(t, agentURL+"/state"),
			"agent GET /files/browse of the task": httpGet(t, agentURL+"/files/browse?path="+sandbox),
			"the framework's event stream":        f.received(),
			"the master's log":                    c.Master.Output(),
			"the agent's log":                     agent.Output(),
		}
		for what, text := range where {
			if text == "" {
				t.Errorf("%s: %s is empty: nothing was checked", stage, what)
			}
			for _, v := range values {
				if strings.Contains(text, v) {
					t.Errorf("%s: %s holds a secret's value %q:\n%s", stage, what, v, text)
				}
			}
		}
		files := 0
		filepath.WalkDir(workDir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || !d.Type().IsRegular() {
				return nil
			}
			files++
			b, err := os.ReadFile(p)
			if err != nil {
				t.Errorf("reading %s: %v", p, err)
				return nil
			}
			for _, v := range values {
				if bytes.Contains(b, []byte(v)) && p != stdout {
					t.Errorf("%s: %s holds a secret's value %q", stage, p, v)
				}
			}
			return nil
		})
		t.Logf("%s: checked %d API answers, streams and logs, and %d files of the agent's work dir", stage, len(where), files)
	}
	// While the task runs its checkpoint is there to be read.
	if _, err := os.Stat(filepath.Join(workDir, "meta", "frameworks", f.id, "tasks", "app")); err != nil {
		t.Errorf("the task's checkpoint: %v", err)
	}
	check("running")
	for _, p := range []string{"conf/db.pw", "token"} {
		resp, err := http.Get(agentURL + "/files/read?offset=0&path=" + url.QueryEscape(filepath.Join(sandbox, p)))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK || bytes.Contains(b, []byte(stored)) || bytes.Contains(b, []byte(inline)) {
			t.Errorf("agent GET /files/read of the secret volume %s = %d %s; want refused", p, resp.StatusCode, b)
		}
	}
	if entries, err := os.ReadDir(filepath.Join(secretsDir, f.id, "app")); err != nil || len(entries) != 2 {
		t.Errorf("the task's secret files in --secrets_dir: %v, %v; want 2", entries, err)
	}

	f.call(mesos.Call{Type: mesos.CallKill, Kill: &mesos.Kill{TaskID: mesos.ID{Value: "app"}}})
	until(mesos.TaskKilled)
	check("killed")
	if _, err := os.Stat(filepath.Join(secretsDir, f.id)); !os.IsNotExist(err) {
		t.Errorf("the killed task's secret files: %v; want them removed", err)
	}
	if !strings.Contains(agent.Output(), "level=DEBUG") {
		t.Errorf("the agent's log has no debug lines; the check covers less than it should")
	}
}
