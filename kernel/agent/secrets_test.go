package agent

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"corral/kernel/internal/agentproto"
	"corral/kernel/mesos"
)

// secretsMaster is a fakeMaster that also answers SECRETS calls, with
// what answer returns for each (answer runs under no lock).
type secretsMaster struct {
	*fakeMaster
	url    string
	answer func(c agentproto.Call, stale bool) (int, any)

	mu    sync.Mutex
	calls []agentproto.Call
}

func newSecretsMaster(t *testing.T, answer func(c agentproto.Call, stale bool) (int, any)) *secretsMaster {
	m := &secretsMaster{fakeMaster: newFakeMaster(t), answer: answer}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var c agentproto.Call
		if json.Unmarshal(body, &c) != nil || c.Type != agentproto.CallSecrets {
			r.Body = io.NopCloser(bytes.NewReader(body))
			m.serve(w, r)
			return
		}
		m.fakeMaster.mu.Lock()
		stale := m.cur == nil || m.cur.id != c.ConnectionID
		m.fakeMaster.mu.Unlock()
		m.mu.Lock()
		m.calls = append(m.calls, c)
		m.mu.Unlock()
		code, v := m.answer(c, stale)
		if s, ok := v.(string); ok {
			http.Error(w, s, code)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		json.NewEncoder(w).Encode(v)
	}))
	t.Cleanup(func() {
		srv.CloseClientConnections()
		srv.Close()
	})
	m.url = srv.URL
	return m
}

func (m *secretsMaster) secretCalls() []agentproto.Call {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]agentproto.Call(nil), m.calls...)
}

// values answers every SECRETS call with vs, or 404 on a stale connection.
func values(vs map[string]string) func(agentproto.Call, bool) (int, any) {
	return func(c agentproto.Call, stale bool) (int, any) {
		if stale {
			return http.StatusNotFound, "not on this connection"
		}
		ans := agentproto.SecretsAnswer{Secrets: map[string][]byte{}}
		for k, v := range vs {
			ans.Secrets[k] = []byte(v)
		}
		return http.StatusOK, ans
	}
}

// syncBuffer is a log sink safe for the agent's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startLoggedAgent is startAgent with the agent's log, at debug level,
// going to log.
func startLoggedAgent(t *testing.T, cfg Config, log io.Writer) (stop func()) {
	t.Helper()
	a, err := New(cfg, slog.New(slog.NewTextHandler(log, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatalf("New() = %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run() = %v", err)
				}
			case <-time.After(10 * time.Second):
				t.Errorf("Run() did not return after cancel")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

func secretRef(env, name string) mesos.Variable {
	return mesos.Variable{Name: env, Type: mesos.VariableSecret,
		Secret: &mesos.Secret{Type: mesos.SecretReferenceType, Reference: &mesos.SecretReference{Name: name}}}
}

func inlineSecret(env, value string) mesos.Variable {
	return mesos.Variable{Name: env, Type: mesos.VariableSecret,
		Secret: &mesos.Secret{Type: mesos.SecretValueType, Value: &mesos.SecretValue{Data: []byte(value)}}}
}

func withEnv(ti mesos.TaskInfo, vars ...mesos.Variable) mesos.TaskInfo {
	ti.Command.Environment = &mesos.Environment{Variables: vars}
	return ti
}

// forms returns each value as it may be written down: itself, and in
// base64 (as JSON writes bytes).
func forms(values ...string) []string {
	var out []string
	for _, v := range values {
		out = append(out, v, base64.StdEncoding.EncodeToString([]byte(v)))
	}
	return out
}

// holds reports whether text holds any of needles.
func holds(text string, needles []string) bool {
	for _, n := range needles {
		if strings.Contains(text, n) {
			return true
		}
	}
	return false
}

// filesHolding returns the files under dir whose content holds any of
// values.
func filesHolding(t *testing.T, dir string, values ...string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return nil
		}
		b, err := os.ReadFile(p)
		if errors.Is(err, fs.ErrNotExist) {
			return nil // removed since the walk listed it (a forgotten task's journal)
		}
		if err != nil {
			t.Errorf("reading %s: %v", p, err)
			return nil
		}
		for _, v := range values {
			if bytes.Contains(b, []byte(v)) {
				out = append(out, p)
				break
			}
		}
		return nil
	})
	return out
}

// TestLaunchWithSecrets: a task's process gets its stored secrets (asked
// of the master for exactly that task, on the agent's connection) and
// its inline ones in its environment; no value is anywhere else: not in
// the checkpoint, the status updates, /state or the log, not even after
// a restart that adopts the task without asking again.
func TestLaunchWithSecrets(t *testing.T) {
	const (
		stored = "st0red-Vq19"
		inline = "inl1ne-Rw44"
	)
	secret := forms(stored, inline)
	m := newSecretsMaster(t, values(map[string]string{"team/db": stored}))
	cfg := testConfig(t, m.url)
	var log syncBuffer
	stop := startLoggedAgent(t, cfg, &log)
	reg := m.waitRegister(t)
	ti := withEnv(cmdTask("app", `echo "db=$DB_PASSWORD inline=$INLINE plain=$PLAIN"; exec sleep 600`),
		secretRef("DB_PASSWORD", "team/db"), inlineSecret("INLINE", inline), mesos.Variable{Name: "PLAIN", Value: "p"})
	m.event(launch("fw-1", ti))
	m.waitState(t, "app", mesos.TaskRunning, 15*time.Second)

	sandbox := filepath.Join(cfg.WorkDir, "sandboxes", "fw-1", "app")
	want := "db=" + stored + " inline=" + inline + " plain=p\n"
	waitFor(t, 10*time.Second, "the task's output", func() bool {
		b, _ := os.ReadFile(filepath.Join(sandbox, "stdout"))
		return string(b) == want
	})
	calls := m.secretCalls()
	m.fakeMaster.mu.Lock()
	conn := m.cur.id
	m.fakeMaster.mu.Unlock()
	if len(calls) != 1 || calls[0].AgentID != "agent-1" || calls[0].ConnectionID != conn ||
		calls[0].Secrets == nil || *calls[0].Secrets != (agentproto.SecretsRequest{FrameworkID: "fw-1", TaskID: "app"}) {
		t.Errorf("SECRETS calls = %+v; want one for fw-1/app from agent-1 on %s", calls, conn)
	}

	var st State
	getJSON(t, reg.Register.Info.Endpoint+"/state", &st)
	stateJSON, _ := json.Marshal(st)
	updates, _ := json.Marshal(m.updatesOf("app"))
	for what, text := range map[string]string{"/state": string(stateJSON), "the status updates": string(updates), "the log": log.String()} {
		if holds(text, secret) {
			t.Errorf("%s holds a secret's value: %s", what, text)
		}
	}
	if got := filesHolding(t, cfg.WorkDir, secret...); len(got) != 1 || got[0] != filepath.Join(sandbox, "stdout") {
		t.Errorf("files holding a secret's value = %v; want only the task's stdout", got)
	}

	// A restarted agent adopts the running task: nothing is asked again.
	stop()
	startLoggedAgent(t, cfg, &log)
	reg = m.waitRegister(t)
	if len(reg.Register.Tasks) != 1 || reg.Register.Tasks[0].State != mesos.TaskRunning {
		t.Fatalf("REGISTER after restart has tasks %+v; want app RUNNING", reg.Register.Tasks)
	}
	if n := len(m.secretCalls()); n != 1 {
		t.Errorf("SECRETS calls after the restart = %d; want still 1", n)
	}
	m.event(agentproto.Event{Type: agentproto.EventKill, Kill: &agentproto.Kill{FrameworkID: "fw-1", TaskID: "app"}})
	m.waitState(t, "app", mesos.TaskKilled, 15*time.Second)
	if holds(log.String(), secret) {
		t.Errorf("the log holds a secret's value: %s", log.String())
	}
	if got := filesHolding(t, cfg.WorkDir, secret...); len(got) != 1 {
		t.Errorf("files holding a secret's value after the restart = %v; want only the task's stdout", got)
	}
}

// TestSecretFailuresFailTheTask: a task whose secrets cannot be had
// ends TASK_FAILED, saying which secret and why, and nothing of it is
// started. A refusal is final; a master that cannot answer yet is asked
// again, with backoff, a few times.
func TestSecretFailuresFailTheTask(t *testing.T) {
	for _, tc := range []struct {
		name   string
		answer func(c agentproto.Call, stale bool) (int, any)
		vars   []mesos.Variable
		calls  int      // SECRETS calls expected
		says   []string // in the TASK_FAILED message
	}{
		{"deleted", func(agentproto.Call, bool) (int, any) {
			return http.StatusNotFound, "Secret 'team/db' referenced by task 'app' does not exist: it was never stored or has been deleted"
		}, []mesos.Variable{secretRef("DB_PASSWORD", "team/db")}, 1,
			[]string{`secret "team/db"`, "does not exist"}},
		{"not allowed", func(agentproto.Call, bool) (int, any) {
			return http.StatusForbidden, "Secret 'team/db' of task 'app': principal \"web\" may not use_secrets \"team/db\""
		}, []mesos.Variable{secretRef("DB_PASSWORD", "team/db")}, 1,
			[]string{`secret "team/db"`, "may not use_secrets"}},
		{"store off", func(agentproto.Call, bool) (int, any) {
			return http.StatusServiceUnavailable, "The master keeps no secrets: it was started without --secrets_key"
		}, []mesos.Variable{secretRef("DB_PASSWORD", "team/db"), secretRef("TOKEN", "team/token")}, secretAttempts,
			[]string{`secrets "team/db", "team/token"`, "--secrets_key"}},
		{"NUL in a stored value", values(map[string]string{"team/db": "a\x00b"}),
			[]mesos.Variable{secretRef("DB_PASSWORD", "team/db")}, 1,
			[]string{"DB_PASSWORD", `"team/db"`, "NUL"}},
		{"not given", values(map[string]string{}),
			[]mesos.Variable{secretRef("DB_PASSWORD", "team/db")}, 1,
			[]string{"DB_PASSWORD", `"team/db"`, "not given"}},
		{"NUL in an inline value", values(nil),
			[]mesos.Variable{inlineSecret("INLINE", "a\x00b")}, 0,
			[]string{"INLINE", "NUL"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := newSecretsMaster(t, tc.answer)
			cfg := testConfig(t, m.url)
			startAgent(t, cfg)
			m.waitRegister(t)
			marker := filepath.Join(t.TempDir(), "ran")
			m.event(launch("fw-1", withEnv(cmdTask("app", "touch "+marker), tc.vars...)))
			u := m.waitState(t, "app", mesos.TaskFailed, 30*time.Second)
			for _, s := range tc.says {
				if !strings.Contains(u.Status.Message, s) {
					t.Errorf("TASK_FAILED message %q; want it to say %q", u.Status.Message, s)
				}
			}
			if strings.Contains(u.Status.Message, "a\x00b") || u.Status.Reason != mesos.ReasonContainerLaunchFailed {
				t.Errorf("TASK_FAILED = %s %q; want REASON_CONTAINER_LAUNCH_FAILED and no value", u.Status.Reason, u.Status.Message)
			}
			if got := m.states("app"); len(got) != 1 {
				t.Errorf("updates %v; want TASK_FAILED alone", got)
			}
			if n := len(m.secretCalls()); n != tc.calls {
				t.Errorf("SECRETS calls = %d; want %d", n, tc.calls)
			}
			if _, err := os.Stat(filepath.Join(cfg.WorkDir, "sandboxes", "fw-1", "app")); !os.IsNotExist(err) {
				t.Errorf("the task's sandbox exists (%v); want nothing made", err)
			}
			if _, err := os.Stat(marker); !os.IsNotExist(err) {
				t.Errorf("the task's command ran")
			}
		})
	}
}

// TestSecretsAskedAgain: a master that cannot answer at first (503) is
// asked again until it does, and the task then runs.
func TestSecretsAskedAgain(t *testing.T) {
	var mu sync.Mutex
	n := 0
	ok := values(map[string]string{"team/db": "v4lue"})
	m := newSecretsMaster(t, func(c agentproto.Call, stale bool) (int, any) {
		mu.Lock()
		n++
		first := n <= 2
		mu.Unlock()
		if first {
			return http.StatusServiceUnavailable, "The secret store's database cannot be reached"
		}
		return ok(c, stale)
	})
	cfg := testConfig(t, m.url)
	startAgent(t, cfg)
	m.waitRegister(t)
	m.event(launch("fw-1", withEnv(cmdTask("app", `test "$DB_PASSWORD" = v4lue`), secretRef("DB_PASSWORD", "team/db"))))
	if u := m.waitState(t, "app", mesos.TaskFinished, 30*time.Second); u.Status.State != mesos.TaskFinished {
		t.Errorf("task = %s %q; want TASK_FINISHED", u.Status.State, u.Status.Message)
	}
	if got := len(m.secretCalls()); got != 3 {
		t.Errorf("SECRETS calls = %d; want 3", got)
	}
}
