package e2e

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"corral/internal/testcluster"
)

// TestAppSecretFiles: an app's secret reaches its tasks as an environment
// variable and as files, in both shapes the services API accepts
// (Marathon's secret volume and a secret's "file"), through real master,
// agent and services processes; and its COMMAND health check, which sees
// the task's environment, sees the secret too: the app turns healthy only
// if the check finds the variable set and both files holding its value.
func TestAppSecretFiles(t *testing.T) {
	keyFile := filepath.Join(t.TempDir(), "secrets.key")
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, []byte(hex.EncodeToString(key)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := testcluster.Start(t, testcluster.Options{Agents: 1, MasterArgs: []string{"--secrets_key", keyFile}})
	f := c.StartFramework("services")
	a := api{t: t, url: f.URL}
	master := api{t: t, url: c.URL}
	value := fmt.Sprintf("pw-%x", key[:6])
	master.must("PUT", "/secrets/team/db", map[string]any{"value": value}, 201)

	a.must("POST", "/v2/apps", map[string]any{
		"id": "/with-secrets", "cmd": "exec sleep 600", "cpus": 0.05, "mem": 32, "instances": 1,
		"env":     map[string]any{"DB": map[string]any{"secret": "db"}},
		"secrets": map[string]any{"db": map[string]any{"source": "/team/db", "file": "db.pw"}},
		"container": map[string]any{"type": "MESOS", "volumes": []any{
			map[string]any{"containerPath": "conf/db.pw", "secret": "db"},
		}},
		"healthChecks": []any{map[string]any{
			"protocol": "COMMAND", "command": map[string]any{"value": `test -n "$DB" && test "$(cat conf/db.pw)" = "$DB" && test "$(cat db.pw)" = "$DB"`},
			"gracePeriodSeconds": 30, "intervalSeconds": 1, "timeoutSeconds": 5, "maxConsecutiveFailures": 3,
		}},
	}, 201)
	testcluster.Eventually(t, 60*time.Second, func() bool {
		return healthyTasks(a.app("/with-secrets")) == 1
	}, "the app's task to be healthy: its check to see the secret in its environment and files")
	if body := string(a.must("GET", "/v2/apps/with-secrets", nil, 200)); strings.Contains(body, value) {
		t.Errorf("GET /v2/apps/with-secrets holds the secret's value: %s", body)
	}
}
