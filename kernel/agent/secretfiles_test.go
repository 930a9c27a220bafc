package agent

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"corral/kernel/internal/agentproto"
	"corral/kernel/mesos"
)

// digest is the hex SHA-256 of s, as sha256sum prints it.
func digest(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func secretVolume(path, mode string, s *mesos.Secret) mesos.Volume {
	return mesos.Volume{ContainerPath: path, Mode: mode, Source: &mesos.VolumeSource{Type: mesos.VolumeSourceSecret, Secret: s}}
}

// TestSecretVolumesAndCheckSecrets: a task's secret volumes are files at
// their paths in the sandbox, holding the values, readable by the task
// and served by no API; they live outside the work dir (which never
// holds a value) and go when the task ends. Its command health check
// gets its own SECRET variables, and gets them again, from the master,
// after an agent restart. Files left by tasks that ended while no agent
// ran are swept at start.
func TestSecretVolumesAndCheckSecrets(t *testing.T) {
	const (
		stored = "st0red-file-Qz71"
		inline = "inl1ne-file-Kp02"
		check  = "ch3ck-env-Lm38"
	)
	m := newSecretsMaster(t, values(map[string]string{"team/db": stored, "team/check": check}))
	cfg := testConfig(t, m.url)
	var log syncBuffer
	stop := startLoggedAgent(t, cfg, &log)
	reg := m.waitRegister(t)

	// The commands compare digests: the task's definition holds no value.
	ti := cmdTask("app", `if [ "$(sha256sum <conf/db.pw)" = "`+digest(stored)+`  -" ] && [ "$(sha256sum <token)" = "`+digest(inline)+`  -" ]; then echo files-ok; fi; exec sleep 600`)
	ti.Container = &mesos.ContainerInfo{Type: mesos.ContainerMesos, Volumes: []mesos.Volume{
		secretVolume("conf/db.pw", mesos.VolumeRO, &mesos.Secret{Type: mesos.SecretReferenceType, Reference: &mesos.SecretReference{Name: "team/db"}}),
		secretVolume("token", mesos.VolumeRW, &mesos.Secret{Type: mesos.SecretValueType, Value: &mesos.SecretValue{Data: []byte(inline)}}),
	}}
	interval, delay := mesos.Float(0.2), mesos.Float(0)
	ti.HealthCheck = &mesos.HealthCheck{Type: "COMMAND", IntervalSeconds: &interval, DelaySeconds: &delay,
		Command: &mesos.CommandInfo{Value: `test "$(printf %s "$CHK" | sha256sum)" = "` + digest(check) + `  -" && touch check-ok`,
			Environment: &mesos.Environment{Variables: []mesos.Variable{secretRef("CHK", "team/check")}}}}
	m.event(launch("fw-1", ti))
	m.waitState(t, "app", mesos.TaskRunning, 15*time.Second)

	sandbox := filepath.Join(cfg.WorkDir, "sandboxes", "fw-1", "app")
	waitFor(t, 10*time.Second, "the task to read its secret files", func() bool {
		b, _ := os.ReadFile(filepath.Join(sandbox, "stdout"))
		return string(b) == "files-ok\n"
	})
	waitFor(t, 10*time.Second, "the health check to see its secret", func() bool {
		_, err := os.Stat(filepath.Join(sandbox, "check-ok"))
		return err == nil
	})

	taskDir := filepath.Join(cfg.SecretsDir, "fw-1", "app")
	for path, mode := range map[string]os.FileMode{"conf/db.pw": 0o400, "token": 0o600} {
		link := filepath.Join(sandbox, path)
		target, err := os.Readlink(link)
		if err != nil || filepath.Dir(target) != taskDir {
			t.Errorf("%s in the sandbox: link to %q, %v; want a link into %s", path, target, err, taskDir)
			continue
		}
		if fi, err := os.Stat(target); err != nil || fi.Mode().Perm() != mode {
			t.Errorf("%s: %v, %v; want mode %v", target, fi, err, mode)
		}
		q := url.Values{"path": {link}, "offset": {"0"}}
		resp, err := http.Get(reg.Register.Info.Endpoint + "/files/read?" + q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Errorf("/files/read of the secret volume %s = %s; want refused", path, resp.Status)
		}
	}
	secret := forms(stored, inline, check)
	if got := filesHolding(t, cfg.WorkDir, secret...); len(got) != 0 {
		t.Errorf("files in the work dir holding a secret's value = %v; want none", got)
	}

	// Restart: the running task is adopted with its files; its check asks
	// the master for its secret again. A task's files left from an
	// earlier run, of a task no agent knows, are removed.
	stop()
	stale := filepath.Join(cfg.SecretsDir, "fw-9", "gone")
	if err := os.MkdirAll(stale, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(stale, "0"), []byte("old"), 0o400); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(sandbox, "check-ok")); err != nil {
		t.Fatal(err)
	}
	startLoggedAgent(t, cfg, &log)
	m.waitRegister(t)
	waitFor(t, 20*time.Second, "the recovered health check to see its secret", func() bool {
		_, err := os.Stat(filepath.Join(sandbox, "check-ok"))
		return err == nil
	})
	if n := len(m.secretCalls()); n != 2 {
		t.Errorf("SECRETS calls = %d; want 2 (the launch, and the recovered check)", n)
	}
	if _, err := os.Stat(filepath.Join(cfg.SecretsDir, "fw-9")); !os.IsNotExist(err) {
		t.Errorf("stale secret files of a gone task: %v; want them removed at start", err)
	}
	if _, err := os.Stat(filepath.Join(taskDir, "0")); err != nil {
		t.Errorf("the running task's secret file after the restart: %v; want it kept", err)
	}

	m.event(agentproto.Event{Type: agentproto.EventKill, Kill: &agentproto.Kill{FrameworkID: "fw-1", TaskID: "app"}})
	m.waitState(t, "app", mesos.TaskKilled, 15*time.Second)
	waitFor(t, 10*time.Second, "the ended task's secret files to go", func() bool {
		_, err := os.Stat(filepath.Join(cfg.SecretsDir, "fw-1"))
		return os.IsNotExist(err)
	})
	if holds(log.String(), secret) {
		t.Errorf("the log holds a secret's value: %s", log.String())
	}
}

// TestSecretVolumeCannotEscape: a sandbox reused from an earlier task
// (same framework and task id) that holds a link where a secret volume's
// directory goes cannot make the agent write through it: the task fails,
// naming the path, and nothing is written outside.
func TestSecretVolumeCannotEscape(t *testing.T) {
	m := newSecretsMaster(t, values(nil))
	cfg := testConfig(t, m.url)
	startAgent(t, cfg)
	m.waitRegister(t)
	outside := t.TempDir()
	sandbox := filepath.Join(cfg.WorkDir, "sandboxes", "fw-1", "app")
	if err := os.MkdirAll(sandbox, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(sandbox, "conf")); err != nil {
		t.Fatal(err)
	}
	ti := cmdTask("app", "exec sleep 600")
	ti.Container = &mesos.ContainerInfo{Volumes: []mesos.Volume{secretVolume("conf/db.pw", mesos.VolumeRO,
		&mesos.Secret{Type: mesos.SecretValueType, Value: &mesos.SecretValue{Data: []byte("v")}})}}
	m.event(launch("fw-1", ti))
	u := m.waitState(t, "app", mesos.TaskFailed, 15*time.Second)
	if !strings.Contains(u.Status.Message, `secret volume "conf/db.pw"`) || !strings.Contains(u.Status.Message, "not a directory") {
		t.Errorf("TASK_FAILED message %q; want it to name the volume and say why", u.Status.Message)
	}
	if entries, _ := os.ReadDir(outside); len(entries) != 0 {
		t.Errorf("the agent wrote %v outside the sandbox", entries)
	}
	if _, err := os.Stat(filepath.Join(cfg.SecretsDir, "fw-1", "app")); !os.IsNotExist(err) {
		t.Errorf("the failed task's secret files: %v; want them removed", err)
	}
}

// TestSecretVolumeAsUser: a task run as nobody reads its own secret file,
// owned by nobody, but not the secret file of a task run as another user.
func TestSecretVolumeAsUser(t *testing.T) {
	rootRequired(t)
	nobody := nobodyUID(t)
	m := newSecretsMaster(t, values(map[string]string{"team/db": "nobody-s3cret", "team/root": "root-s3cret"}))
	cfg := userConfig(t, m.url)
	if err := os.Chmod(filepath.Dir(cfg.SecretsDir), 0o755); err != nil {
		t.Fatal(err)
	}
	startAgent(t, cfg)
	m.waitRegister(t)
	ref := func(name string) *mesos.Secret {
		return &mesos.Secret{Type: mesos.SecretReferenceType, Reference: &mesos.SecretReference{Name: name}}
	}
	rootTask := cmdTask("root-task", "exec sleep 600")
	rootTask.Container = &mesos.ContainerInfo{Volumes: []mesos.Volume{secretVolume("root.pw", mesos.VolumeRO, ref("team/root"))}}
	m.event(launch("fw-1", rootTask))
	m.waitState(t, "root-task", mesos.TaskRunning, 15*time.Second)
	rootFile, err := os.Readlink(filepath.Join(sandboxOfTask(cfg, "fw-1", "root-task"), "root.pw"))
	if err != nil {
		t.Fatal(err)
	}

	mine := cmdTask("mine", `if [ "$(sha256sum <db.pw)" = "`+digest("nobody-s3cret")+`  -" ]; then echo own-ok; fi; `+
		`cat `+rootFile+` >/dev/null 2>&1 && echo read-other || echo other-refused; exec sleep 600`)
	mine.Command.User = "nobody"
	mine.Container = &mesos.ContainerInfo{Volumes: []mesos.Volume{secretVolume("db.pw", mesos.VolumeRO, ref("team/db"))}}
	m.event(launch("fw-1", mine))
	m.waitState(t, "mine", mesos.TaskRunning, 15*time.Second)
	sandbox := sandboxOfTask(cfg, "fw-1", "mine")
	waitFor(t, 10*time.Second, "the task's verdicts", func() bool {
		b, _ := os.ReadFile(filepath.Join(sandbox, "stdout"))
		return strings.Count(string(b), "\n") == 2
	})
	if b, _ := os.ReadFile(filepath.Join(sandbox, "stdout")); string(b) != "own-ok\nother-refused\n" {
		t.Errorf("the nobody task printed %q; want it to read its own secret file and not the other task's", b)
	}
	target, err := os.Readlink(filepath.Join(sandbox, "db.pw"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{target, filepath.Dir(target), filepath.Join(sandbox, "db.pw")} {
		if uid := ownerUID(t, p); uid != nobody {
			t.Errorf("%s is owned by uid %d; want nobody (%d)", p, uid, nobody)
		}
	}
}
