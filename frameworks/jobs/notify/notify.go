package notify

import (
	"net/mail"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"corral/frameworks/jobs/job"
)

// Target is a URL to tell that a run ended.
type Target struct {
	URL string
	// Default marks the framework's default webhook.
	Default bool
}

// Targets returns whom a run of a job with webhooks hooks that ended in
// state is told: each webhook that wants state (in the job's order); for
// a job without webhooks, the default webhook def (if not "") when state
// is FAILED; else nobody.
func Targets(hooks []job.Webhook, def, state string) []Target {
	if len(hooks) == 0 {
		if def != "" && state == job.OnFailed {
			return []Target{{URL: def, Default: true}}
		}
		return nil
	}
	var out []Target
	for _, h := range hooks {
		if h.Wants(state) {
			out = append(out, Target{URL: h.URL})
		}
	}
	return out
}

// MailScheme prefixes the targets that are e-mail addresses: a run's
// owners told by mail (see Owners).
const MailScheme = "mailto:"

// Owners returns the e-mail targets for a run of a job with owner that
// ended in state: Chronos mails a job's owners when a run fails, so each
// e-mail address in owner (a comma-separated list, as in Chronos; other
// words are not addresses and are left out; an address listed twice is
// one target) is a target when state is FAILED; otherwise nobody.
func Owners(owner, state string) []Target {
	if state != job.OnFailed {
		return nil
	}
	var out []Target
	seen := map[string]bool{}
	for _, part := range strings.Split(owner, ",") {
		a, err := mail.ParseAddress(strings.TrimSpace(part))
		if err != nil || !strings.Contains(a.Address, "@") || seen[strings.ToLower(a.Address)] {
			continue // not an address, or one already listed
		}
		seen[strings.ToLower(a.Address)] = true
		out = append(out, Target{URL: MailScheme + a.Address})
	}
	return out
}

// Run is what a notification tells of a run: the facts of the run as the
// jobs API shows them.
type Run struct {
	ID          int64
	Job         string
	State       string
	Trigger     string
	Attempt     int // 0 for the first, as in the run's JSON
	MaxAttempts int
	Reason      string
	ExitStatus  *int
	AgentID     string
	Host        string
	TaskID      string
	// Sandbox is the link to the run's sandbox on its agent (the agent's
	// /files/browse?path=…), "" if the run never started.
	Sandbox      string
	ScheduledFor *time.Time
	QueuedAt     time.Time
	StartedAt    *time.Time
	FinishedAt   *time.Time
}

// Payload is the JSON body of a notification. Times are RFC 3339 in UTC;
// those a run lacks, and an unknown exit status, are null.
type Payload struct {
	// DeliveryID identifies the notification across its attempts (also
	// in the X-Corral-Delivery header).
	DeliveryID string `json:"deliveryId"`
	// Event is "run_" and the state in lower case: run_failed,
	// run_succeeded, run_missed, run_skipped (the names of /v1/events).
	Event        string  `json:"event"`
	Job          string  `json:"job"`
	RunID        int64   `json:"runId"`
	State        string  `json:"state"`
	Trigger      string  `json:"trigger"`
	Attempt      int     `json:"attempt"`
	MaxAttempts  int     `json:"maxAttempts"`
	ScheduledFor *string `json:"scheduledFor"`
	QueuedAt     string  `json:"queuedAt"`
	StartedAt    *string `json:"startedAt"`
	FinishedAt   *string `json:"finishedAt"`
	ExitStatus   *int    `json:"exitStatus"`
	Reason       string  `json:"reason"`
	Host         string  `json:"host"`
	AgentID      string  `json:"agentId"`
	TaskID       string  `json:"taskId"`
	Links        Links   `json:"links"`
}

// Links are where to read more about the run.
type Links struct {
	// Run is the run in the jobs API (GET /v1/jobs/{job}/runs/{id}).
	Run string `json:"run"`
	// Sandbox is the run's sandbox in its agent's file browser, as the
	// run's JSON shows it; Stdout and Stderr download its logs from the
	// agent. All three are absent for a run that never started.
	Sandbox string `json:"sandbox,omitempty"`
	Stdout  string `json:"stdout,omitempty"`
	Stderr  string `json:"stderr,omitempty"`
}

// Event is the name of the event of a run that ended in state.
func Event(state string) string { return "run_" + strings.ToLower(state) }

// Build returns the payload of notification id of r, with links into the
// jobs API at apiBase (its base URL, without a trailing slash).
func Build(id string, r Run, apiBase string) Payload {
	p := Payload{
		DeliveryID: id, Event: Event(r.State), Job: r.Job, RunID: r.ID, State: r.State, Trigger: r.Trigger,
		Attempt: r.Attempt, MaxAttempts: r.MaxAttempts, ScheduledFor: stamp(r.ScheduledFor), QueuedAt: *stamp(&r.QueuedAt),
		StartedAt: stamp(r.StartedAt), FinishedAt: stamp(r.FinishedAt), ExitStatus: r.ExitStatus, Reason: r.Reason,
		Host: r.Host, AgentID: r.AgentID, TaskID: r.TaskID,
		Links: Links{Run: strings.TrimRight(apiBase, "/") + "/v1/jobs/" + url.PathEscape(r.Job) + "/runs/" + strconv.FormatInt(r.ID, 10)},
	}
	if r.Sandbox != "" {
		p.Links.Sandbox = r.Sandbox
		p.Links.Stdout, p.Links.Stderr = LogLinks(r.Sandbox)
	}
	return p
}

func stamp(t *time.Time) *string {
	if t == nil || t.IsZero() {
		return nil
	}
	s := t.UTC().Format(time.RFC3339Nano)
	return &s
}

// LogLinks returns the links that download a run's stdout and stderr from
// its agent, given the run's sandbox link (the agent's
// /files/browse?path=<sandbox>); "" for a link of another shape.
func LogLinks(sandbox string) (stdout, stderr string) {
	u, err := url.Parse(sandbox)
	if err != nil || u.Host == "" || u.Path != "/files/browse" {
		return "", ""
	}
	dir := strings.TrimRight(u.Query().Get("path"), "/")
	if dir == "" {
		return "", ""
	}
	file := func(name string) string {
		d := *u
		d.Path, d.RawPath, d.Fragment = "/files/download", "", ""
		d.RawQuery = url.Values{"path": {dir + "/" + name}}.Encode()
		return d.String()
	}
	return file("stdout"), file("stderr")
}

// Policy is how long and how often a failing notification is retried.
type Policy struct {
	// Backoff is the delay after the first failed attempt; it doubles
	// after each further one, up to MaxBackoff.
	Backoff, MaxBackoff time.Duration
	// GiveUp is how long after the run ended attempts may still be made.
	GiveUp time.Duration
}

// Delay is the delay after failed attempts (≥ 1) in a row: Backoff,
// doubled for each further failure, capped at MaxBackoff. It never
// overflows.
func (p Policy) Delay(failed int) time.Duration {
	d := max(p.Backoff, 0)
	for i := 1; i < failed && d < p.MaxBackoff; i++ {
		d *= 2
	}
	return min(d, max(p.MaxBackoff, p.Backoff))
}

// Verdict is what becomes of a notification after an attempt.
type Verdict int

// The verdicts.
const (
	Delivered Verdict = iota // the receiver answered 2xx
	Retry                    // it failed; another attempt follows
	Abandon                  // it failed, and the next attempt would come after GiveUp
)

// String names v as the delivery states do.
func (v Verdict) String() string {
	switch v {
	case Delivered:
		return "delivered"
	case Retry:
		return "failing"
	case Abandon:
		return "abandoned"
	}
	return "Verdict(" + strconv.Itoa(int(v)) + ")"
}

// Decide judges attempt number attempts (1 for the first) of a
// notification of a run that ended at ended, made at now, which
// succeeded (ok) or not. For Retry, next is when the next attempt is due.
func (p Policy) Decide(ok bool, attempts int, ended, now time.Time) (v Verdict, next time.Time) {
	if ok {
		return Delivered, time.Time{}
	}
	next = now.Add(p.Delay(max(attempts, 1)))
	if next.Sub(ended) > p.GiveUp {
		return Abandon, time.Time{}
	}
	return Retry, next
}

// Succeeded reports whether an answer with HTTP status code delivered a
// notification: a 2xx.
func Succeeded(code int) bool { return code >= 200 && code < 300 }

// maxSnippet bounds the part of a receiver's answer kept in an error.
const maxSnippet = 200

// Failure describes an answer that did not deliver a notification: its
// status line ("500 Internal Server Error"), and the start of its body
// (printable characters, spaces collapsed, at most maxSnippet bytes) if
// it has one.
func Failure(status string, body []byte) string {
	msg := "HTTP " + status
	snippet := strings.Map(func(r rune) rune {
		if r == unicode.ReplacementChar || !unicode.IsPrint(r) && !unicode.IsSpace(r) {
			return -1
		}
		return r
	}, string(body))
	snippet = strings.Join(strings.Fields(snippet), " ")
	if len(snippet) > maxSnippet {
		cut := maxSnippet
		for cut > 0 && !utf8.RuneStart(snippet[cut]) {
			cut--
		}
		snippet = snippet[:cut] + "…"
	}
	if snippet != "" {
		msg += ": " + snippet
	}
	return msg
}

// Shown is a webhook's URL as the API shows it in a run's notifications:
// a job's own with its password masked (the job's definition shows the
// rest), the default webhook as its scheme and host only, since the
// operator's URL often carries a token and job viewers did not give it.
func Shown(u string, isDefault bool) string {
	p, err := url.Parse(u)
	if err != nil {
		return ""
	}
	if isDefault {
		return p.Scheme + "://" + p.Host + "/…"
	}
	return p.Redacted()
}

// Mail is the e-mail telling to of p, from from, as sent over SMTP: the
// headers (with X-Corral-Delivery, for receivers to dedupe) and a plain
// text body with the run's facts and links, lines ending in CRLF. date
// is the Date header's time.
func Mail(p Payload, from, to string, date time.Time) []byte {
	var b strings.Builder
	header := func(k, v string) { b.WriteString(k + ": " + v + "\r\n") }
	header("From", from)
	header("To", to)
	header("Subject", mailHeaderText("corral: job "+p.Job+" run "+strconv.FormatInt(p.RunID, 10)+" "+p.State))
	header("Date", date.UTC().Format(time.RFC1123Z))
	header("Message-ID", "<"+p.DeliveryID+"@corral-jobs>")
	header("MIME-Version", "1.0")
	header("Content-Type", "text/plain; charset=utf-8")
	header("Content-Transfer-Encoding", "8bit")
	header("X-Corral-Delivery", p.DeliveryID)
	header("X-Corral-Event", p.Event)
	b.WriteString("\r\n")
	line := func(k, v string) {
		if v != "" {
			b.WriteString(k + ": " + v + "\r\n")
		}
	}
	b.WriteString("Run " + strconv.FormatInt(p.RunID, 10) + " of job " + p.Job + " ended " + p.State + ".\r\n\r\n")
	line("Reason", p.Reason)
	if p.ExitStatus != nil {
		line("Exit status", strconv.Itoa(*p.ExitStatus))
	}
	line("Trigger", p.Trigger)
	line("Attempt", strconv.Itoa(p.Attempt+1)+" of "+strconv.Itoa(p.MaxAttempts))
	for _, t := range []struct {
		k string
		v *string
	}{{"Scheduled for", p.ScheduledFor}, {"Started", p.StartedAt}, {"Finished", p.FinishedAt}} {
		if t.v != nil {
			line(t.k, *t.v)
		}
	}
	line("Host", p.Host)
	line("Task", p.TaskID)
	b.WriteString("\r\n")
	line("Run", p.Links.Run)
	line("Stdout", p.Links.Stdout)
	line("Stderr", p.Links.Stderr)
	line("Sandbox", p.Links.Sandbox)
	return []byte(b.String())
}

// mailHeaderText keeps a header value on one line of printable text.
func mailHeaderText(s string) string {
	return strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}
