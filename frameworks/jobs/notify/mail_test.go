package notify

import (
	"strings"
	"testing"
	"time"

	"corral/frameworks/jobs/job"
)

func TestOwners(t *testing.T) {
	got := Owners("ops@example.com, Data Team <data@example.com>,not an address, nobody, Ops <OPS@example.com>", job.OnFailed)
	if len(got) != 2 || got[0].URL != "mailto:ops@example.com" || got[1].URL != "mailto:data@example.com" {
		t.Errorf("Owners = %+v; want the two addresses", got)
	}
	if got := Owners("ops@example.com", "SUCCEEDED"); got != nil {
		t.Errorf("Owners of a success = %+v; want nobody", got)
	}
}

func TestMail(t *testing.T) {
	exit := 3
	started := "2026-01-02T03:04:05Z"
	p := Payload{DeliveryID: "d-1", Event: "run_failed", Job: "nightly", RunID: 7, State: "FAILED", Trigger: "schedule",
		MaxAttempts: 2, Attempt: 1, ExitStatus: &exit, Reason: "exited with status 3", StartedAt: &started, Host: "h1",
		Links: Links{Run: "http://jobs/v1/jobs/nightly/runs/7", Stderr: "http://agent/files/download?path=%2Fs%2Fstderr"}}
	m := string(Mail(p, "corral@example.com", "ops@example.com", time.Date(2026, 1, 2, 3, 5, 0, 0, time.UTC)))
	head, body, ok := strings.Cut(m, "\r\n\r\n")
	if !ok {
		t.Fatalf("no blank line between headers and body:\n%s", m)
	}
	for _, want := range []string{"From: corral@example.com", "To: ops@example.com", "Subject: corral: job nightly run 7 FAILED",
		"Date: Fri, 02 Jan 2026 03:05:00 +0000", "Message-ID: <d-1@corral-jobs>", "X-Corral-Delivery: d-1", "Content-Type: text/plain; charset=utf-8"} {
		if !strings.Contains(head, want+"\r\n") {
			t.Errorf("headers lack %q:\n%s", want, head)
		}
	}
	for _, want := range []string{"Run 7 of job nightly ended FAILED.", "Reason: exited with status 3", "Exit status: 3", "Attempt: 2 of 2",
		"Started: 2026-01-02T03:04:05Z", "Run: http://jobs/v1/jobs/nightly/runs/7", "Stderr: http://agent/files/download?path=%2Fs%2Fstderr"} {
		if !strings.Contains(body, want+"\r\n") {
			t.Errorf("body lacks %q:\n%s", want, body)
		}
	}
	if strings.Contains(m, "\n") && strings.Count(m, "\n") != strings.Count(m, "\r\n") {
		t.Errorf("a line ends without CR:\n%q", m)
	}
}
