package executor

import (
	"context"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"corral/kernel/mesos"
)

// TestLaunchUpdateAcknowledgeShutdown walks one task through its life:
// LAUNCH, RUNNING and FINISHED updates, their acknowledgements, then
// SHUTDOWN, which ends Run after the handler's Shutdown.
func TestLaunchUpdateAcknowledgeShutdown(t *testing.T) {
	codecs(t, func(t *testing.T, protobuf bool) {
		a := newFakeAgent(t, protobuf)
		h := newRecorder(mesos.TaskRunning, mesos.TaskFinished)
		errc := start(t, a.config(false), h)

		st := a.subscribe(t)
		if len(st.sub.Subscribe.UnacknowledgedTasks)+len(st.sub.Subscribe.UnacknowledgedUpdates) != 0 {
			t.Errorf("first SUBSCRIBE lists %+v; want nothing", st.sub.Subscribe)
		}
		info := recv(t, h.subscribed, "Subscribed")
		if info.AgentInfo.Hostname != "localhost" {
			t.Errorf("Subscribed agent hostname = %q; want localhost", info.AgentInfo.Hostname)
		}
		d := recv(t, h.driver, "driver")
		if got := d.Config().ExecutorID; got != testExecutor {
			t.Errorf("Driver.Config().ExecutorID = %q; want %q", got, testExecutor)
		}

		st.send(launchEvent("t1"))
		running, finished := a.nextUpdate(t), a.nextUpdate(t)
		recv(t, h.launched, "Launch")
		h.noErrors(t)
		for i, c := range []struct {
			got  mesos.TaskStatus
			want mesos.TaskState
		}{{running, mesos.TaskRunning}, {finished, mesos.TaskFinished}} {
			if c.got.TaskID.Value != "t1" || c.got.State != c.want {
				t.Errorf("update %d = task %q %s; want t1 %s", i, c.got.TaskID.Value, c.got.State, c.want)
			}
		}
		if running.UUID == finished.UUID {
			t.Errorf("both updates have uuid %s", running.UUID)
		}
		tasks, updates := pending(d)
		if !slices.Equal(tasks, []string{"t1"}) || !slices.Equal(updates, []string{running.UUID, finished.UUID}) {
			t.Errorf("before ACKNOWLEDGED: pending tasks %v, updates %v; want [t1], [%s %s]", tasks, updates, running.UUID, finished.UUID)
		}

		st.send(ackEvent(running))
		h.sync(t, st)
		if tasks, updates := pending(d); len(tasks) != 0 || !slices.Equal(updates, []string{finished.UUID}) {
			t.Errorf("after one ACKNOWLEDGED: pending tasks %v, updates %v; want [], [%s]", tasks, updates, finished.UUID)
		}
		st.send(ackEvent(finished))
		h.sync(t, st)
		if tasks, updates := pending(d); len(tasks)+len(updates) != 0 {
			t.Errorf("after both ACKNOWLEDGED: pending tasks %v, updates %v; want none", tasks, updates)
		}

		st.send(mesos.ExecutorEvent{Type: mesos.ExecEventShutdown})
		recv(t, h.shutdown, "Shutdown")
		if err := recv(t, errc, "end of Run"); err != nil {
			t.Errorf("Run after SHUTDOWN = %v; want nil", err)
		}
	})
}

// TestKillAndShutdownUpdates checks that KILL reaches the handler and
// that updates sent from Shutdown are delivered before Run returns.
func TestKillAndShutdownUpdates(t *testing.T) {
	codecs(t, func(t *testing.T, protobuf bool) {
		a := newFakeAgent(t, protobuf)
		h := newRecorder(mesos.TaskRunning)
		h.shutdownKills = []string{"t2"}
		errc := start(t, a.config(false), h)
		st := a.subscribe(t)

		st.send(launchEvent("t1"))
		a.nextUpdate(t)
		st.send(mesos.ExecutorEvent{Type: mesos.ExecEventKill, Kill: &mesos.ExecutorKill{TaskID: mesos.ID{Value: "t1"}}})
		if got := recv(t, h.killed, "Kill"); got.Value != "t1" {
			t.Errorf("Kill task = %q; want t1", got.Value)
		}
		if u := a.nextUpdate(t); u.TaskID.Value != "t1" || u.State != mesos.TaskKilled || u.Message != "killed" {
			t.Errorf("after KILL agent got %s %s %q; want t1 TASK_KILLED \"killed\"", u.TaskID.Value, u.State, u.Message)
		}

		st.send(mesos.ExecutorEvent{Type: mesos.ExecEventShutdown})
		if err := recv(t, errc, "end of Run"); err != nil {
			t.Errorf("Run after SHUTDOWN = %v; want nil", err)
		}
		if u := a.nextUpdate(t); u.TaskID.Value != "t2" || u.State != mesos.TaskKilled {
			t.Errorf("during Shutdown agent got %s %s; want t2 TASK_KILLED", u.TaskID.Value, u.State)
		}
		h.noErrors(t)
	})
}

// TestMessages sends a message each way and checks that a refused call
// quotes the agent's answer.
func TestMessages(t *testing.T) {
	codecs(t, func(t *testing.T, protobuf bool) {
		a := newFakeAgent(t, protobuf)
		h := newRecorder()
		start(t, a.config(false), h)
		st := a.subscribe(t)
		d := recv(t, h.driver, "driver")

		st.send(messageEvent("ping"))
		if got := recv(t, h.messages, "Message"); got != "ping" {
			t.Errorf("handler got message %q; want ping", got)
		}
		c := a.nextCall(t)
		if c.Type != mesos.ExecCallMessage || c.Message == nil {
			t.Fatalf("agent got %s; want MESSAGE", c.Type)
		}
		if got, _ := base64.StdEncoding.DecodeString(c.Message.Data); string(got) != "pong" {
			t.Errorf("agent got message %q; want pong", got)
		}
		h.noErrors(t)

		a.setRefusal(mesos.ExecCallMessage, http.StatusForbidden, "Executor is not subscribed")
		err := d.SendMessage(t.Context(), []byte("x"))
		var ce *CallError
		if !errors.As(err, &ce) || ce.Code != http.StatusForbidden || !strings.Contains(err.Error(), "Executor is not subscribed") {
			t.Errorf("SendMessage refused with 403 = %v; want a *CallError quoting the body", err)
		}
	})
}

// TestResubscribeWithCheckpoint breaks the stream of a checkpointing
// executor: it subscribes again, listing the launched task and its
// unacknowledged update, and stops listing them once acknowledged.
func TestResubscribeWithCheckpoint(t *testing.T) {
	codecs(t, func(t *testing.T, protobuf bool) {
		a := newFakeAgent(t, protobuf)
		h := newRecorder(mesos.TaskRunning)
		start(t, a.config(true), h)
		st := a.subscribe(t)
		d := recv(t, h.driver, "driver")
		st.send(launchEvent("t1"))
		running := a.nextUpdate(t)
		recv(t, h.launched, "Launch")

		close(st.drop)
		st = a.nextStream(t)
		sub := st.sub.Subscribe
		if len(sub.UnacknowledgedTasks) != 1 || sub.UnacknowledgedTasks[0].TaskID.Value != "t1" {
			t.Errorf("re-SUBSCRIBE unacknowledged_tasks = %+v; want t1", sub.UnacknowledgedTasks)
		}
		if len(sub.UnacknowledgedUpdates) != 1 {
			t.Fatalf("re-SUBSCRIBE has %d unacknowledged updates; want 1", len(sub.UnacknowledgedUpdates))
		}
		if got := sub.UnacknowledgedUpdates[0].Status; got.UUID != running.UUID || got.State != mesos.TaskRunning || got.TaskID.Value != "t1" {
			t.Errorf("re-SUBSCRIBE update = %s %s %s; want t1 TASK_RUNNING %s", got.TaskID.Value, got.State, got.UUID, running.UUID)
		}

		st.send(subscribedEvent())
		recv(t, h.subscribed, "second Subscribed")
		st.send(ackEvent(running))
		h.sync(t, st)
		if tasks, updates := pending(d); len(tasks)+len(updates) != 0 {
			t.Errorf("after ACKNOWLEDGED: pending tasks %v, updates %v; want none", tasks, updates)
		}

		close(st.drop)
		st = a.nextStream(t)
		if sub := st.sub.Subscribe; len(sub.UnacknowledgedTasks)+len(sub.UnacknowledgedUpdates) != 0 {
			t.Errorf("third SUBSCRIBE lists %+v; want nothing", sub)
		}
		h.noErrors(t)
	})
}

// TestDisconnectWithoutCheckpoint: a broken stream ends Run.
func TestDisconnectWithoutCheckpoint(t *testing.T) {
	codecs(t, func(t *testing.T, protobuf bool) {
		a := newFakeAgent(t, protobuf)
		h := newRecorder()
		errc := start(t, a.config(false), h)
		st := a.subscribe(t)
		recv(t, h.subscribed, "Subscribed")
		close(st.drop)
		if err := recv(t, errc, "end of Run"); !errors.Is(err, ErrDisconnected) {
			t.Errorf("Run after a broken stream = %v; want ErrDisconnected", err)
		}
	})
}

// TestErrorEventResubscribes: ERROR drops the stream and subscribes
// again, also without checkpointing.
func TestErrorEventResubscribes(t *testing.T) {
	codecs(t, func(t *testing.T, protobuf bool) {
		a := newFakeAgent(t, protobuf)
		h := newRecorder()
		errc := start(t, a.config(false), h)
		st := a.subscribe(t)
		st.send(mesos.ExecutorEvent{Type: mesos.ExecEventError, Error: &mesos.Error{Message: "boom"}})
		st = a.subscribe(t)
		recv(t, h.subscribed, "first Subscribed")
		recv(t, h.subscribed, "second Subscribed")
		st.send(mesos.ExecutorEvent{Type: mesos.ExecEventShutdown})
		if err := recv(t, errc, "end of Run"); err != nil {
			t.Errorf("Run = %v; want nil after SHUTDOWN", err)
		}
	})
}

// TestSkippedEvents: HEARTBEAT, LAUNCH_GROUP and an event type newer
// than this package are not fatal.
func TestSkippedEvents(t *testing.T) {
	codecs(t, func(t *testing.T, protobuf bool) {
		a := newFakeAgent(t, protobuf)
		h := newRecorder()
		errc := start(t, a.config(false), h)
		st := a.subscribe(t)
		st.send(mesos.ExecutorEvent{Type: mesos.ExecEventHeartbeat})
		st.send(mesos.ExecutorEvent{Type: mesos.ExecEventLaunchGroup})
		st.send(mesos.ExecutorEvent{Type: "42"})
		st.send(mesos.ExecutorEvent{Type: mesos.ExecEventLaunch}) // no payload
		h.sync(t, st)
		select {
		case err := <-errc:
			t.Fatalf("Run ended: %v", err)
		default:
		}
	})
}

// TestResendUntilAcknowledged: an update is sent again until the agent
// acknowledges it.
func TestResendUntilAcknowledged(t *testing.T) {
	a := newFakeAgent(t, false)
	h := newRecorder(mesos.TaskRunning)
	cfg := a.config(false)
	cfg.ResendInterval = time.Millisecond
	start(t, cfg, h)
	st := a.subscribe(t)
	st.send(launchEvent("t1"))
	first := a.nextUpdate(t)
	again := a.nextUpdate(t)
	if again.UUID != first.UUID {
		t.Fatalf("second UPDATE has uuid %s; want the resent %s", again.UUID, first.UUID)
	}
	st.send(ackEvent(first))
	h.sync(t, st)
	d := recv(t, h.driver, "driver")
	if _, updates := pending(d); len(updates) != 0 {
		t.Fatalf("pending updates %v after ACKNOWLEDGED; want none", updates)
	}
}

// TestGiveUp: a checkpointing executor whose agent keeps refusing with
// 503 gives up after RecoveryTimeout.
func TestGiveUp(t *testing.T) {
	a := newFakeAgent(t, false)
	a.setRefusal(mesos.ExecCallSubscribe, http.StatusServiceUnavailable, "Agent has not finished recovery")
	cfg := a.config(true)
	cfg.RecoveryTimeout = 20 * time.Millisecond
	err := recv(t, start(t, cfg, newRecorder()), "end of Run")
	if !errors.Is(err, ErrDisconnected) || !strings.Contains(err.Error(), "Agent has not finished recovery") {
		t.Errorf("Run = %v; want ErrDisconnected quoting the 503", err)
	}
}

// TestRefusedSubscribe: a 4xx to SUBSCRIBE ends Run at once, with the
// agent's words.
func TestRefusedSubscribe(t *testing.T) {
	a := newFakeAgent(t, true)
	a.setRefusal(mesos.ExecCallSubscribe, http.StatusBadRequest, "Executor 'E1' of framework 'F1' not found")
	err := recv(t, start(t, a.config(true), newRecorder()), "end of Run")
	var ce *CallError
	if !errors.As(err, &ce) || ce.Call != mesos.ExecCallSubscribe || ce.Code != http.StatusBadRequest || !strings.Contains(err.Error(), "not found") {
		t.Errorf("Run = %v; want a SUBSCRIBE *CallError 400 quoting the body", err)
	}
}

// TestUpdateWhileDisconnected: an update made without a subscription is
// kept for the next SUBSCRIBE; invalid ones are refused and not kept.
func TestUpdateWhileDisconnected(t *testing.T) {
	d := &Driver{cfg: Config{ExecutorID: testExecutor}}
	ctx := t.Context()
	if err := d.Update(ctx, "t1", mesos.TaskRunning, "", []byte("x")); !errors.Is(err, ErrNotSubscribed) {
		t.Errorf("Update while not subscribed = %v; want ErrNotSubscribed", err)
	}
	for _, c := range []struct {
		task  string
		state mesos.TaskState
	}{{"", mesos.TaskRunning}, {"t1", mesos.TaskStaging}, {"t1", ""}} {
		if err := d.Update(ctx, c.task, c.state, "", nil); err == nil || errors.Is(err, ErrNotSubscribed) {
			t.Errorf("Update(%q, %q) = %v; want an argument error", c.task, c.state, err)
		}
	}
	if err := d.SendMessage(ctx, []byte("x")); !errors.Is(err, ErrNotSubscribed) {
		t.Errorf("SendMessage while not subscribed = %v; want ErrNotSubscribed", err)
	}
	sub := d.unacknowledged(time.Now())
	if len(sub.UnacknowledgedUpdates) != 1 {
		t.Fatalf("unacknowledged updates = %+v; want the one valid update", sub.UnacknowledgedUpdates)
	}
	st := sub.UnacknowledgedUpdates[0].Status
	if st.Data != base64.StdEncoding.EncodeToString([]byte("x")) || st.Source != mesos.SourceExecutor || st.ExecutorID.Value != testExecutor {
		t.Errorf("kept update = %+v; want data x, SOURCE_EXECUTOR, executor %s", st, testExecutor)
	}
	if raw, err := base64.StdEncoding.DecodeString(st.UUID); err != nil || len(raw) != 16 {
		t.Errorf("uuid %q: %d bytes, %v; want 16", st.UUID, len(raw), err)
	}
}

func TestBackoff(t *testing.T) {
	for _, c := range []struct {
		failures int
		max      time.Duration
		want     time.Duration
	}{
		{1, 15 * time.Second, time.Second},
		{2, 15 * time.Second, 2 * time.Second},
		{4, 15 * time.Second, 8 * time.Second},
		{5, 15 * time.Second, 15 * time.Second},
		{50, 15 * time.Second, 15 * time.Second},
		{1, 10 * time.Millisecond, 10 * time.Millisecond},
	} {
		if got := backoff(c.failures, c.max); got != c.want {
			t.Errorf("backoff(%d, %v) = %v; want %v", c.failures, c.max, got, c.want)
		}
	}
}

// TestRunRefusesBadConfig: Run validates before connecting.
func TestRunRefusesBadConfig(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	if err := Run(ctx, Config{ExecutorID: "E1", AgentURL: "http://127.0.0.1:1"}, newRecorder()); err == nil || !strings.Contains(err.Error(), "FrameworkID") {
		t.Errorf("Run without FrameworkID = %v; want an error naming it", err)
	}
	if err := Run(ctx, Config{FrameworkID: "F", ExecutorID: "E"}, nil); err == nil {
		t.Error("Run with a nil handler = nil; want an error")
	}
}

// TestTLS subscribes to an HTTPS agent trusted through CAFile, with the
// default HTTP client.
func TestTLS(t *testing.T) {
	a := newFakeAgent(t, true)
	a.srv.Close()
	a.srv = httptest.NewUnstartedServer(a)
	a.srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake below
	a.srv.StartTLS()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: a.srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := a.config(false)
	cfg.HTTPClient, cfg.CAFile = nil, ca
	h := newRecorder()
	errc := start(t, cfg, h)
	st := a.subscribe(t)
	recv(t, h.subscribed, "Subscribed")
	st.send(mesos.ExecutorEvent{Type: mesos.ExecEventShutdown})
	if err := recv(t, errc, "end of Run"); err != nil {
		t.Errorf("Run over TLS = %v; want nil", err)
	}

	// Without the CA the agent's certificate is not trusted.
	cfg.CAFile = ""
	if err := recv(t, start(t, cfg, h), "end of Run"); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("Run without the CA = %v; want a certificate error", err)
	}
}
