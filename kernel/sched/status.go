package sched

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// State is where a Client stands with the masters.
type State int

const (
	// StateDisconnected: the Client holds no subscribed stream: before
	// the first SUBSCRIBED, from the end of a stream to the next
	// SUBSCRIBED, and while Run is not running. Run (re)subscribes.
	StateDisconnected State = iota
	// StateSubscribed: SUBSCRIBED arrived on the open stream; calls go
	// to the leader.
	StateSubscribed
	// StateRemoved is terminal: the master removed the framework (a
	// TEARDOWN, from this Client or from anyone holding its id; an
	// operator; the failover timeout) and will never accept its id again.
	// The Client does not subscribe again; Status().Removed says why.
	StateRemoved
)

// String returns "disconnected", "subscribed" or "removed".
func (s State) String() string {
	switch s {
	case StateDisconnected:
		return "disconnected"
	case StateSubscribed:
		return "subscribed"
	case StateRemoved:
		return "removed"
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// MarshalText encodes s as its String.
func (s State) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Status is a snapshot of a Client's connection, from Client.Status.
type Status struct {
	State State
	// Since is when State began: the SUBSCRIBED, the end of the last
	// subscribed stream (New, for a Client never subscribed), or the
	// removal.
	Since time.Time
	// LastSubscribed is when the last SUBSCRIBED arrived; zero before the
	// first.
	LastSubscribed time.Time
	// FrameworkID is as Client.FrameworkID.
	FrameworkID string
	// Heartbeat is the master's heartbeat interval from the last
	// SUBSCRIBED, or Mesos' default (15 s) before the first.
	Heartbeat time.Duration
	// LastError is why the last subscription attempt failed or the last
	// stream ended; nil from a SUBSCRIBED until the next failure.
	LastError error
	// Removed says how the framework was removed; nil unless State is
	// StateRemoved.
	Removed *RemovedError
}

// GraceHeartbeats is how many of the master's heartbeat intervals a
// framework may go without a subscription and still be judged sound by
// Status.Check. One interval covers a dropped connection and the
// reconnect backoff; two also cover a master failover at Mesos' default
// interval (15 s: a 10 s ZooKeeper session, then the new leader's
// recovery). Deriving the grace from the master's interval keeps it in
// step with how the cluster is configured instead of adding a setting
// that must be kept consistent with it.
const GraceHeartbeats = 2

// Grace is how long the framework may be without a subscription before
// Check judges it unsound: GraceHeartbeats heartbeat intervals.
func (s Status) Grace() time.Duration { return GraceHeartbeats * s.Heartbeat }

// Check judges the connection at now, for a framework's health report.
// It is sound while subscribed, and while not subscribed for no longer
// than Grace (reconnecting, or starting up before the first SUBSCRIBED);
// otherwise reason says what is wrong. A removed framework is never
// sound. Check is pure.
func (s Status) Check(now time.Time) (ok bool, reason string) {
	switch s.State {
	case StateSubscribed:
		return true, ""
	case StateRemoved:
		if s.Removed != nil {
			return false, s.Removed.Reason()
		}
		return false, "framework removed by the master"
	}
	away := now.Sub(s.Since)
	if away <= s.Grace() {
		return true, ""
	}
	if s.LastSubscribed.IsZero() {
		reason = fmt.Sprintf("not subscribed to a master since start-up %s ago (grace %s)", roundDuration(away), s.Grace())
	} else {
		reason = fmt.Sprintf("not subscribed to a master for %s (grace %s)", roundDuration(away), s.Grace())
	}
	if s.LastError != nil {
		reason += "; last error: " + s.LastError.Error()
	}
	return false, reason
}

// Report is a Status judged at a moment (Status.Report), shaped for the
// JSON of a health endpoint.
type Report struct {
	// Sound is Check's verdict; Reason says why not (empty when sound).
	Sound          bool       `json:"-"`
	Reason         string     `json:"reason,omitempty"`
	State          State      `json:"state"`
	FrameworkID    string     `json:"id,omitempty"`
	Since          time.Time  `json:"since"`
	LastSubscribed *time.Time `json:"lastSubscribed,omitempty"`
	Grace          string     `json:"grace"`
	LastError      string     `json:"lastError,omitempty"`
}

// Report judges s at now (see Check) and returns the verdict with the
// facts behind it.
func (s Status) Report(now time.Time) Report {
	r := Report{State: s.State, FrameworkID: s.FrameworkID, Since: s.Since.UTC(), Grace: s.Grace().String()}
	r.Sound, r.Reason = s.Check(now)
	if !s.LastSubscribed.IsZero() {
		t := s.LastSubscribed.UTC()
		r.LastSubscribed = &t
	}
	if s.LastError != nil {
		r.LastError = s.LastError.Error()
	}
	return r
}

// roundDuration rounds d for people: to 10 ms below a minute, to the
// second above.
func roundDuration(d time.Duration) time.Duration {
	if d < time.Minute {
		return d.Round(10 * time.Millisecond)
	}
	return d.Round(time.Second)
}

// ErrRemoved is matched (errors.Is) by every *RemovedError.
var ErrRemoved = errors.New("sched: framework removed")

// RemovedError reports that the master removed the framework: Run
// returns it (except after the Client's own Teardown), and
// Status().Removed holds it. It matches ErrRemoved; when the master said
// so by refusing SUBSCRIBE with a 4xx, it unwraps to that *CallError.
type RemovedError struct {
	FrameworkID string // the removed framework's id
	Master      string // base URL of the master that said so; "" after Teardown
	Message     string // the master's words, e.g. "Framework has been removed"
	Err         error  // the refused SUBSCRIBE's *CallError, or nil
}

// Error returns "sched: framework <id> removed: <reason>".
func (e *RemovedError) Error() string {
	return fmt.Sprintf("sched: framework %s removed: %s", e.FrameworkID, e.why())
}

// Reason is a sentence for operators: which framework was removed, by
// whom and why it stays so.
func (e *RemovedError) Reason() string {
	if e.Master == "" {
		return fmt.Sprintf("framework %s was torn down by this scheduler (%s)", e.FrameworkID, e.Message)
	}
	return fmt.Sprintf("framework %s was removed by the master %s (%q); the master never accepts this id again", e.FrameworkID, e.Master, e.Message)
}

func (e *RemovedError) why() string {
	if e.Master == "" {
		return e.Message
	}
	return fmt.Sprintf("master %s said %q", e.Master, e.Message)
}

// Is reports whether target is ErrRemoved.
func (e *RemovedError) Is(target error) bool { return target == ErrRemoved }

// Unwrap returns the refused SUBSCRIBE's error, if any.
func (e *RemovedError) Unwrap() error { return e.Err }

// removalMessages are what masters say, in an ERROR event or a refused
// SUBSCRIBE, about a framework they removed: Mesos and corral answer a
// SUBSCRIBE with a removed framework's id "Framework has been removed".
// Matched case-insensitively, anywhere in the message.
var removalMessages = []string{"framework has been removed"}

// isRemoval reports whether a master's message says the framework was
// removed.
func isRemoval(msg string) bool {
	m := strings.ToLower(msg)
	for _, r := range removalMessages {
		if strings.Contains(m, r) {
			return true
		}
	}
	return false
}
