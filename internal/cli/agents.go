package cli

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// --- agent drain / undrain ----------------------------------------------------

// agentVerbs are the verbs on agents besides `agent list`.
func agentVerbs() []*verb {
	return []*verb{
		{
			group: "agent", name: "drain", args: "AGENT", summary: "drain an agent: no new tasks, its tasks killed, then DRAINED",
			about: `AGENT is an agent's id, its hostname, or a prefix of either that names
one agent. Deactivates the agent (it gets no new tasks) and gives its tasks until
--deadline to be gone. Frameworks are told at once (inverse offers): the
services framework starts replacements elsewhere and stops each instance
here once its replacement is healthy; jobs let running runs finish. Tasks
still running near the deadline are killed so that they have ended by it,
each within its kill policy's grace period (at most the deadline); they
end with REASON_AGENT_DRAINING. --deadline 0 kills every task at once
within its own kill policy's grace period, as Mesos does. Progress is
shown until the agent is DRAINED (or gone, with --mark-gone); Ctrl-C stops
watching, not the drain. A drained agent stays out of use until
` + "`corral agent undrain ID`" + `. With --mark-gone the agent is removed for good once
drained. Needs the drain_agents ACL (and mark_agents_gone with --mark-gone).`,
			uses: useMaster, minArgs: 1, maxArgs: 1,
			setup: func(fs *flag.FlagSet) func(context.Context, *runner) error {
				deadline := fs.Duration("deadline", 10*time.Minute, "by when every task must be gone (0: kill them all now, each with its own kill policy's grace period)")
				markGone := fs.Bool("mark-gone", false, "remove the agent for good once it is drained")
				noWait := fs.Bool("no-wait", false, "start the drain and return")
				return func(ctx context.Context, r *runner) error {
					return agentDrain(ctx, r, r.args[0], *deadline, *markGone, !*noWait)
				}
			},
		},
		{
			group: "agent", name: "undrain", args: "AGENT", summary: "reactivate a drained (or deactivated) agent",
			about: `AGENT is an agent's id, its hostname, or a prefix of either that names
one agent. Lets the agent take tasks again once it is DRAINED (a drain under way
cannot be cancelled) or after it was deactivated. Needs the
reactivate_agents ACL.`,
			uses: useMaster, minArgs: 1, maxArgs: 1,
			setup: func(fs *flag.FlagSet) func(context.Context, *runner) error {
				return func(ctx context.Context, r *runner) error {
					id, err := r.resolveAgent(ctx, r.args[0])
					if err != nil {
						return err
					}
					if _, err := r.master.do(ctx, http.MethodPost, "/api/v1", map[string]any{"type": "REACTIVATE_AGENT",
						"reactivate_agent": map[string]any{"agent_id": map[string]string{"value": id}}}); err != nil {
						return err
					}
					fmt.Fprintf(r.out, "agent %s reactivated: it takes new tasks\n", id)
					return nil
				}
			},
		},
	}
}

// resolveAgent finds the agent arg names among those the master knows:
// its id, its hostname, or a prefix of either that names one agent.
func (r *runner) resolveAgent(ctx context.Context, arg string) (string, error) {
	st, _, err := r.fetchState(ctx)
	if err != nil {
		return "", err
	}
	a, err := matchAgent(st.Agents, arg)
	return a.ID, err
}

// matchAgent finds the one agent arg names: an exact id, else an exact
// hostname, else a prefix of one id, else a prefix of one hostname; two
// or more at the first level that matches are an error listing them
// (pure).
func matchAgent(agents []agentState, arg string) (agentState, error) {
	levels := []func(a agentState) bool{
		func(a agentState) bool { return a.ID == arg },
		func(a agentState) bool { return a.Hostname == arg },
		func(a agentState) bool { return strings.HasPrefix(a.ID, arg) },
		func(a agentState) bool { return strings.HasPrefix(a.Hostname, arg) },
	}
	for _, match := range levels {
		var found []agentState
		for _, a := range agents {
			if match(a) {
				found = append(found, a)
			}
		}
		switch len(found) {
		case 0:
			continue
		case 1:
			return found[0], nil
		}
		var names []string
		for _, a := range found {
			names = append(names, a.ID+" ("+a.Hostname+")")
		}
		return agentState{}, usagef("%q matches %d agents: %s; give more of an id", arg, len(found), strings.Join(names, ", "))
	}
	return agentState{}, notFoundf("no agent %q is known to the master ('corral agent list' lists them)", arg)
}

func agentDrain(ctx context.Context, r *runner, arg string, deadline time.Duration, markGone, wait bool) error {
	if deadline < 0 {
		return usagef("--deadline must not be negative")
	}
	id, err := r.resolveAgent(ctx, arg)
	if err != nil {
		return err
	}
	call := map[string]any{"agent_id": map[string]string{"value": id}, "mark_gone": markGone}
	if deadline > 0 {
		call["max_grace_period"] = map[string]int64{"seconds": int64(deadline / time.Second), "nanos": int64(deadline % time.Second)}
	}
	if _, err := r.master.do(ctx, http.MethodPost, "/api/v1", map[string]any{"type": "DRAIN_AGENT", "drain_agent": call}); err != nil {
		return err
	}
	fmt.Fprintf(r.progress(), "draining agent %s\n", id)
	if !wait {
		return nil
	}
	last := ""
	for {
		st, _, err := r.fetchState(ctx)
		if err != nil {
			return err
		}
		line, done := drainProgress(st.Agents, id, markGone)
		if line != last {
			fmt.Fprintln(r.progress(), line)
			last = line
		}
		if done {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(r.poll):
		}
	}
}

// drainProgress says where the drain of agent id stands, and whether it
// is over (pure).
func drainProgress(agents []agentState, id string, markGone bool) (string, bool) {
	for _, a := range agents {
		if a.ID != id {
			continue
		}
		switch {
		case a.State == "gone":
			return fmt.Sprintf("agent %s (%s) is drained and gone", id, a.Hostname), true
		case a.DrainInfo != nil && a.DrainInfo.State == "DRAINED":
			return fmt.Sprintf("agent %s (%s) is DRAINED: no task left; `corral agent undrain %s` takes it back", id, a.Hostname, id), true
		default:
			return fmt.Sprintf("agent %s (%s): %d task(s) left", id, a.Hostname, a.TaskCount), false
		}
	}
	if markGone {
		return fmt.Sprintf("agent %s is gone", id), true
	}
	return fmt.Sprintf("agent %s is no longer known to the master", id), true
}
