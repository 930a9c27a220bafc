package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"corral/internal/testcluster"
	"corral/internal/testsmtp"
)

// TestOwnerMail: with --smtp, a job's owners (Chronos' owner field) are
// mailed when a run fails, once, with the run's facts and link; the run
// shows the mail delivered; a success mails nobody.
func TestOwnerMail(t *testing.T) {
	mail := testsmtp.Start(t)
	c := testcluster.Start(t, testcluster.Options{Agents: 1})
	f := c.StartFramework("jobs", "--smtp", mail.Addr, "--smtp_from", "corral@example.test")
	a := api{t: t, url: f.URL}
	for name, cmd := range map[string]string{"broken": "exit 4", "fine": "true"} {
		a.must("POST", "/v1/jobs", map[string]any{"name": name, "command": cmd, "cpus": 0.01, "mem": 16, "retries": 0,
			"schedule": "R1/2030-01-01T00:00:00Z/PT1H", "owner": "ops@example.test, not an address"}, 201)
		a.must("POST", "/v1/jobs/"+name+"/run", nil, 201)
	}
	waitRuns(t, a, "fine", 60*time.Second, func(rs []run) bool { return len(rs) == 1 && rs[0].State == "SUCCEEDED" })
	rs := waitRuns(t, a, "broken", 60*time.Second, func(rs []run) bool {
		return len(rs) == 1 && rs[0].State == "FAILED" && len(rs[0].Notifications) == 1 && rs[0].Notifications[0].State == "delivered"
	})
	if n := rs[0].Notifications[0]; n.URL != "mailto:ops@example.test" || n.Event != "FAILED" || n.Attempts != 1 {
		t.Errorf("broken's notification = %+v; want a mail to ops@example.test, delivered at once", n)
	}
	msgs := mail.Messages()
	if len(msgs) != 1 {
		t.Fatalf("the mail server got %d messages; want exactly 1 (the failure)", len(msgs))
	}
	m := msgs[0]
	if m.From != "corral@example.test" || len(m.To) != 1 || m.To[0] != "ops@example.test" {
		t.Errorf("envelope = from %q to %v; want corral@example.test to ops@example.test", m.From, m.To)
	}
	for _, want := range []string{fmt.Sprintf("Subject: corral: job broken run %d FAILED", rs[0].ID), "Exit status: 4",
		fmt.Sprintf("Run: %s/v1/jobs/broken/runs/%d", f.URL, rs[0].ID), "X-Corral-Delivery: " + rs[0].Notifications[0].ID} {
		if !strings.Contains(m.Data, want) {
			t.Errorf("the mail lacks %q:\n%s", want, m.Data)
		}
	}
}
