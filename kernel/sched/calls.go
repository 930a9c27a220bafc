package sched

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"

	"corral/kernel/mesos"
)

// ErrNotSubscribed is returned (wrapped) by calls made while the Client
// has no subscribed stream: before the first SUBSCRIBED, between a
// disconnection and the next SUBSCRIBED, and after Teardown. Nothing was
// sent; the caller retries after the next SUBSCRIBED event, when it
// usually reconciles anyway. Suppress and Revive are the exception: the
// Client keeps their wish and applies it when it subscribes again.
var ErrNotSubscribed = errors.New("sched: not subscribed")

// CallError is a master's non-2xx answer to a call. It carries the status
// code and the master's message (the response body, trimmed and capped).
type CallError struct {
	Call    mesos.CallType // the call that failed
	Master  string         // base URL of the master that answered
	Code    int            // HTTP status code
	Message string         // the master's explanation, possibly ""
}

// Error returns "sched: <CALL> at <master>: <code> <message>".
func (e *CallError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(e.Code)
	}
	return fmt.Sprintf("sched: %s at %s: %d %s", e.Call, e.Master, e.Code, msg)
}

// permanent reports whether repeating the same request cannot help: a
// client error other than a timeout or rate limit.
func (e *CallError) permanent() bool {
	return e.Code >= 400 && e.Code < 500 &&
		e.Code != http.StatusRequestTimeout && e.Code != http.StatusTooManyRequests
}

// maxErrorBody caps the message kept from an error response.
const maxErrorBody = 4 << 10

func newCallError(call mesos.CallType, master string, resp *http.Response) *CallError {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	discard(resp.Body)
	return &CallError{Call: call, Master: master, Code: resp.StatusCode, Message: strings.TrimSpace(string(b))}
}

// call sends a non-SUBSCRIBE call on the current subscription.
func (c *Client) call(ctx context.Context, call *mesos.Call) error {
	_, err := c.send(ctx, call)
	return err
}

// send is call that also returns the Mesos-Stream-Id it sent the call
// with.
func (c *Client) send(ctx context.Context, call *mesos.Call) (streamID string, err error) {
	c.mu.Lock()
	master, streamID, id, ok := c.leader, c.streamID, c.frameworkIDLocked(), c.connected
	c.mu.Unlock()
	if !ok {
		return "", fmt.Errorf("%w: cannot send %s", ErrNotSubscribed, call.Type)
	}
	call.FrameworkID = &mesos.ID{Value: id}
	body, err := c.encodeCall(call)
	if err != nil {
		return streamID, fmt.Errorf("sched: encoding %s: %w", call.Type, err)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.cfg.CallTimeout)
		defer cancel()
	}
	req, err := c.newRequest(ctx, master, body, streamID)
	if err != nil {
		return streamID, fmt.Errorf("sched: %s at %s: %w", call.Type, master, err)
	}
	resp, err := c.callHC.Do(req)
	if err != nil {
		return streamID, fmt.Errorf("sched: %s at %s: %w", call.Type, master, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return streamID, newCallError(call.Type, master, resp)
	}
	discard(resp.Body)
	return streamID, nil
}

// Accept sends ACCEPT: apply ops to the offers; their unused resources
// are declined with filters (nil: the master's default refuse time). Each
// offer may be used in one ACCEPT or DECLINE only.
func (c *Client) Accept(ctx context.Context, offerIDs []mesos.ID, ops []mesos.Operation, filters *mesos.Filters) error {
	return c.call(ctx, &mesos.Call{
		Type:   mesos.CallAccept,
		Accept: &mesos.Accept{OfferIDs: offerIDs, Operations: ops, Filters: filters},
	})
}

// Launch accepts the offers with a single LAUNCH of tasks; see Accept. No
// tasks declines the offers.
func (c *Client) Launch(ctx context.Context, offerIDs []mesos.ID, tasks []mesos.TaskInfo, filters *mesos.Filters) error {
	var ops []mesos.Operation
	if len(tasks) > 0 {
		ops = []mesos.Operation{{Type: mesos.OpLaunch, Launch: &mesos.Launch{TaskInfos: tasks}}}
	}
	return c.Accept(ctx, offerIDs, ops, filters)
}

// Decline sends DECLINE for the offers; filters (may be nil) says how long
// not to offer those resources again.
func (c *Client) Decline(ctx context.Context, offerIDs []mesos.ID, filters *mesos.Filters) error {
	return c.call(ctx, &mesos.Call{
		Type:    mesos.CallDecline,
		Decline: &mesos.Decline{OfferIDs: offerIDs, Filters: filters},
	})
}

// AcceptInverseOffers sends ACCEPT_INVERSE_OFFERS: the framework has
// given back (or is about to) what it used on those inverse offers'
// agents. filters (may be nil) says how long before the master asks again.
func (c *Client) AcceptInverseOffers(ctx context.Context, ids []mesos.ID, filters *mesos.Filters) error {
	return c.call(ctx, &mesos.Call{
		Type:                mesos.CallAcceptInverseOffers,
		AcceptInverseOffers: &mesos.InverseOfferReply{InverseOfferIDs: ids, Filters: filters},
	})
}

// DeclineInverseOffers sends DECLINE_INVERSE_OFFERS: the framework cannot
// give back what it uses there yet. filters (may be nil) says how long
// before the master asks again.
func (c *Client) DeclineInverseOffers(ctx context.Context, ids []mesos.ID, filters *mesos.Filters) error {
	return c.call(ctx, &mesos.Call{
		Type:                 mesos.CallDeclineInverseOffers,
		DeclineInverseOffers: &mesos.InverseOfferReply{InverseOfferIDs: ids, Filters: filters},
	})
}

// Kill sends KILL for a task; agentID may be "". The outcome arrives as an
// UPDATE (TASK_KILLED, or TASK_LOST for a task the master does not know).
func (c *Client) Kill(ctx context.Context, taskID, agentID string) error {
	k := &mesos.Kill{TaskID: mesos.ID{Value: taskID}}
	if agentID != "" {
		k.AgentID = &mesos.ID{Value: agentID}
	}
	return c.call(ctx, &mesos.Call{Type: mesos.CallKill, Kill: k})
}

// Acknowledge sends ACKNOWLEDGE for a status update; uuid is the update's
// status.uuid exactly as received (base64). Only updates that carry a
// uuid may be acknowledged.
func (c *Client) Acknowledge(ctx context.Context, agentID, taskID, uuid string) error {
	if uuid == "" {
		return errors.New("sched: acknowledging an update without uuid")
	}
	return c.call(ctx, &mesos.Call{
		Type: mesos.CallAcknowledge,
		Acknowledge: &mesos.Acknowledge{
			AgentID: mesos.ID{Value: agentID},
			TaskID:  mesos.ID{Value: taskID},
			UUID:    uuid,
		},
	})
}

// Reconcile sends RECONCILE: explicit for the listed tasks, implicit (all
// of the framework's tasks the master knows) when tasks is empty. Answers
// arrive as UPDATE events without uuid.
func (c *Client) Reconcile(ctx context.Context, tasks []mesos.ReconcileTask) error {
	return c.call(ctx, &mesos.Call{Type: mesos.CallReconcile, Reconcile: &mesos.Reconcile{Tasks: tasks}})
}

// Revive sends REVIVE for roles (none: all the framework's roles), which
// un-suppresses them and clears offer filters.
//
// The wish outlives the call: from now on the Client re-subscribes
// without those roles suppressed, and it sends REVIVE again after the
// next SUBSCRIBED if this one did not reach a master (ErrNotSubscribed
// while disconnected), or retries it with backoff if the master refused
// it while the subscription lasts. An error says only that this REVIVE
// was not taken now. Roles that are not the framework's are sent but
// not kept. Suppress and Revive reach the master in the order they
// were called.
func (c *Client) Revive(ctx context.Context, roles ...string) error {
	c.offerMu.Lock()
	defer c.offerMu.Unlock()
	c.mu.Lock()
	rs := c.wish.revive(roles, c.framework.EffectiveRoles())
	c.mu.Unlock()
	sid, err := c.send(ctx, &mesos.Call{Type: mesos.CallRevive, Revive: &mesos.Revive{Roles: roles}})
	c.offerCallDone(err, sid, func(current bool) { c.wish.reviveSent(rs, current) })
	if err != nil && !errors.Is(err, ErrNotSubscribed) {
		c.offersChanged()
	}
	return err
}

// Suppress sends SUPPRESS for roles (none: all the framework's roles): no
// offers for them until Revive.
//
// The wish outlives the call: from now on the Client re-subscribes with
// those roles listed as suppressed, so a reconnection does not bring
// offers back, and it retries a SUPPRESS the master refused with backoff
// while the subscription lasts. An error says only that this SUPPRESS
// was not taken now. Roles that are not the framework's are sent but
// not kept.
func (c *Client) Suppress(ctx context.Context, roles ...string) error {
	c.offerMu.Lock()
	defer c.offerMu.Unlock()
	c.mu.Lock()
	rs := c.wish.suppress(roles, c.framework.EffectiveRoles())
	c.mu.Unlock()
	sid, err := c.send(ctx, &mesos.Call{Type: mesos.CallSuppress, Suppress: &mesos.Suppress{Roles: roles}})
	c.offerCallDone(err, sid, func(current bool) { c.wish.suppressSent(rs, current) })
	if err != nil && !errors.Is(err, ErrNotSubscribed) {
		c.offersChanged()
	}
	return err
}

// Teardown sends TEARDOWN: the master kills all the framework's tasks and
// removes it. On success the Client closes its stream, Run returns nil,
// the Client cannot subscribe again, and Status reports StateRemoved.
func (c *Client) Teardown(ctx context.Context) error {
	if err := c.call(ctx, &mesos.Call{Type: mesos.CallTeardown}); err != nil {
		return err
	}
	c.mu.Lock()
	c.tornDown = true
	c.markRemovedLocked(&RemovedError{FrameworkID: c.frameworkIDLocked(), Message: "TEARDOWN"})
	cancel := c.cancelStream
	c.mu.Unlock()
	if cancel != nil {
		cancel(errTornDown)
	}
	return nil
}

// Shutdown sends SHUTDOWN: the agent tells the framework's executor
// executorID to shut down and kills it after its grace period; its
// unfinished tasks end with it. Best effort, as in Mesos.
func (c *Client) Shutdown(ctx context.Context, agentID, executorID string) error {
	return c.call(ctx, &mesos.Call{
		Type:     mesos.CallShutdown,
		Shutdown: &mesos.Shutdown{ExecutorID: mesos.ID{Value: executorID}, AgentID: mesos.ID{Value: agentID}},
	})
}

// Message sends MESSAGE: data to an executor, best effort (no delivery
// guarantee).
func (c *Client) Message(ctx context.Context, agentID, executorID string, data []byte) error {
	return c.call(ctx, &mesos.Call{
		Type: mesos.CallMessage,
		Message: &mesos.Message{
			AgentID:    mesos.ID{Value: agentID},
			ExecutorID: mesos.ID{Value: executorID},
			Data:       base64.StdEncoding.EncodeToString(data),
		},
	})
}

// UpdateFramework sends UPDATE_FRAMEWORK, which the master answers
// synchronously (200). info.ID defaults to the current framework id;
// user, principal and checkpoint cannot change. On success info and
// suppressedRoles (those of info's roles) replace those sent on later
// re-subscriptions and become the wish Suppress and Revive change; on
// failure nothing changes and the caller retries. It is ordered with
// Suppress and Revive.
func (c *Client) UpdateFramework(ctx context.Context, info mesos.FrameworkInfo, suppressedRoles []string) error {
	if info.ID == nil {
		if id := c.FrameworkID(); id != "" {
			info.ID = &mesos.ID{Value: id}
		}
	}
	c.offerMu.Lock()
	defer c.offerMu.Unlock()
	sid, err := c.send(ctx, &mesos.Call{
		Type:            mesos.CallUpdateFramework,
		UpdateFramework: &mesos.UpdateFramework{FrameworkInfo: info, SuppressedRoles: suppressedRoles},
	})
	if err != nil {
		return err
	}
	info.Roles = slices.Clone(info.Roles)
	info.Capabilities = slices.Clone(info.Capabilities)
	c.mu.Lock()
	c.framework = info
	c.wish.replace(suppressedRoles, info.EffectiveRoles(), c.connected && sid == c.streamID)
	c.mu.Unlock()
	return nil
}
