package agent

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"corral/kernel/agent/update"
	"corral/kernel/internal/agentclient"
	"corral/kernel/internal/agentproto"
)

// How a launch worker asks the master for a task's secrets: up to
// secretAttempts calls, waiting secretBackoff between the first two and
// twice as long each time after, at most secretBackoffMax (about 8 s in
// all), while the master cannot be reached, is changing leader, or cannot
// reach its store. A refusal (no such secret, not allowed) is final.
const (
	secretAttempts   = 6
	secretBackoff    = 250 * time.Millisecond
	secretBackoffMax = 4 * time.Second
)

// errUnregistered is a SECRETS call that could not be made: the agent is
// between registrations.
var errUnregistered = errors.New("the agent is not registered with a master")

// fetchSecrets asks the leading master for the values of the stored
// secrets names that task k references, retrying as described above. It
// runs in a launch worker, off the loop. The error, meant for the task's
// TASK_FAILED, names the secrets and the reason, never a value.
func (a *Agent) fetchSecrets(ctx context.Context, k update.Key, names []string) (map[string][]byte, error) {
	wait := secretBackoff
	var err error
	for attempt := 1; ; attempt++ {
		var (
			sess   *session
			values map[string][]byte
		)
		if sess, err = a.currentSession(ctx); err == nil {
			values, err = a.askSecrets(ctx, sess, k)
			if err == nil {
				return values, nil
			}
		}
		if ctx.Err() != nil {
			return nil, secretsError(names, "the agent is stopping")
		}
		if !a.secretRetry(ctx, sess, err) || attempt == secretAttempts {
			break
		}
		a.log.Warn("cannot fetch the task's secrets yet; retrying", "framework", k.FrameworkID, "task", k.TaskID,
			"secrets", names, "attempt", attempt, "in", wait, "err", err)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, secretsError(names, "the agent is stopping")
		case <-t.C:
		}
		wait = min(2*wait, secretBackoffMax)
	}
	var ae *agentclient.AnswerError
	if errors.As(err, &ae) && ae.Message != "" {
		// The master's text names the secret or the task at fault.
		return nil, secretsError(names, ae.Message)
	}
	return nil, secretsError(names, err.Error())
}

// secretsError is the failure of a task whose secrets could not be had.
func secretsError(names []string, why string) error {
	quoted := make([]string, len(names))
	for i, n := range names {
		quoted[i] = strconv.Quote(n)
	}
	what := "secret " + quoted[0]
	if len(names) > 1 {
		what = "secrets " + strings.Join(quoted, ", ")
	}
	return fmt.Errorf("cannot get %s from the master: %s", what, why)
}

// secretRetry says whether a failed SECRETS call made on sess may
// succeed if made again: the master was unreachable or answered that it
// may later (agentclient.AnswerError.Temporary), the agent was between
// registrations, or the master did not know the task on a connection
// that the agent has replaced since (it re-registered meanwhile).
func (a *Agent) secretRetry(ctx context.Context, sess *session, err error) bool {
	var ae *agentclient.AnswerError
	switch {
	case errors.Is(err, errUnregistered):
		return true
	case !errors.As(err, &ae):
		return true // the master could not be reached
	case ae.Temporary():
		return true
	case ae.Code == http.StatusNotFound:
		now, cerr := a.currentSession(ctx)
		return cerr == nil && now != sess
	}
	return false
}

// currentSession returns the loop's registration with the leading
// master, or errUnregistered.
func (a *Agent) currentSession(ctx context.Context) (*session, error) {
	var s *session
	if err := a.ask(ctx, func(l *loop) { s = l.session }); err != nil {
		return nil, err
	}
	if s == nil {
		return nil, errUnregistered
	}
	return s, nil
}

// askSecrets makes one SECRETS call for task k within the session.
func (a *Agent) askSecrets(ctx context.Context, s *session, k update.Key) (map[string][]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	return agentclient.Secrets(ctx, a.client, s.base, agentproto.Call{Type: agentproto.CallSecrets,
		AgentID: s.agentID, ConnectionID: s.connectionID,
		Secrets: &agentproto.SecretsRequest{FrameworkID: k.FrameworkID, TaskID: k.TaskID}})
}
