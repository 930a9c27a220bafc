package master

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"

	"corral/kernel/internal/agentproto"
	"corral/kernel/internal/registry"
	"corral/kernel/master/internal/core"
	"corral/kernel/mesos"
	"corral/kernel/mesos/mesospb"
)

// apply carries out the effects of one step of the core, on the loop
// goroutine, without blocking:
//
//  1. registry writes go to the registrar, in order; it makes them durable
//     one at a time, in that order, retrying while Postgres is away, and
//     the loop does not wait for them;
//  2. events go onto their streams' queues, in order per stream (a stream
//     the core closes is dropped here; events for a stream that has gone
//     away are dropped);
//  3. counters are incremented and log lines written.
//
// Nothing here feeds back into the core: a step's effects never depend on
// how applying them went.
func (m *Master) apply(fx core.Effects) {
	for _, w := range fx.Writes {
		m.registrar.enqueue(w.String(), m.writeFunc(w))
	}
	// Heartbeats are one event for every stream: encode it once (in each
	// form the streams want).
	var lastFw *mesos.Event
	var lastAg *agentproto.Event
	var b, bj, bp []byte
	for _, s := range fx.Frameworks {
		q := m.fwStreams[s.Stream]
		if q == nil {
			continue
		}
		if s.Event != nil {
			if s.Event != lastFw {
				lastFw, bj, bp = s.Event, nil, nil
			}
			if q.protobuf {
				if bp == nil {
					bp = encodeEvent(s.Event, true)
				}
				q.push(bp)
			} else {
				if bj == nil {
					bj = encodeEvent(s.Event, false)
				}
				q.push(bj)
			}
			m.metrics.eventsSent.WithLabelValues(string(s.Event.Type)).Inc()
		}
		if s.Close {
			q.close()
			delete(m.fwStreams, s.Stream)
		}
	}
	for _, s := range fx.Agents {
		q := m.agentConns[s.Conn]
		if q == nil {
			continue
		}
		if s.Event != nil {
			if s.Event != lastAg {
				lastAg, b = s.Event, encode(s.Event)
			}
			q.push(b)
		}
		if s.Close {
			q.close()
			delete(m.agentConns, s.Conn)
		}
	}
	for _, st := range fx.Counts.StatusUpdates {
		m.metrics.statusUpdates.WithLabelValues(string(st)).Inc()
	}
	if n := fx.Counts.TasksLaunched; n > 0 {
		m.metrics.tasksLaunched.Add(float64(n))
	}
	for _, l := range fx.Logs {
		m.log.Log(context.Background(), logLevel(l.Level), l.Msg, l.Args...)
	}
	for _, ev := range fx.Operator {
		m.publishOperator(ev)
	}
}

// applyDurably is apply, but it returns the results of the registry
// writes, for a caller that answers only once they are durable.
func (m *Master) applyDurably(fx core.Effects) []<-chan error {
	var dones []<-chan error
	for _, w := range fx.Writes {
		dones = append(dones, m.registrar.enqueue(w.String(), m.writeFunc(w)))
	}
	fx.Writes = nil
	m.apply(fx)
	return dones
}

// writeFunc is a registry write as the registrar runs it.
func (m *Master) writeFunc(w core.Write) func(ctx context.Context) error {
	store := m.store
	switch w := w.(type) {
	case core.AdmitAgent:
		return func(ctx context.Context) error { return store.AdmitAgent(ctx, w.ID, w.Hostname, w.Info) }
	case core.MarkAgentUnreachable:
		return func(ctx context.Context) error { return store.MarkAgentUnreachable(ctx, w.ID, w.At) }
	case core.PutAgentDrain:
		var drain json.RawMessage
		if w.Drain != nil {
			drain, _ = json.Marshal(w.Drain)
		}
		return func(ctx context.Context) error { return store.SetAgentDrain(ctx, w.ID, w.Deactivated, drain) }
	case core.MarkAgentGone:
		return func(ctx context.Context) error { return store.MarkAgentGone(ctx, w.ID) }
	case core.PutMaintenance:
		doc, _ := json.Marshal(w.Maintenance)
		return func(ctx context.Context) error { return store.SetMaintenance(ctx, doc) }
	case core.PutFramework:
		f := w.Framework
		rf := registry.Framework{ID: f.ID, Info: f.Info, State: registry.FrameworkState(f.State), FailoverTimeout: f.FailoverTimeout,
			RegisteredAt: f.RegisteredAt, DisconnectedAt: f.DisconnectedAt, RemovedAt: f.RemovedAt}
		return func(ctx context.Context) error { return store.PutFramework(ctx, rf) }
	}
	panic(fmt.Sprintf("master: unknown registry write %T", w))
}

func logLevel(l core.Level) slog.Level {
	switch l {
	case core.LevelWarn:
		return slog.LevelWarn
	case core.LevelDebug:
		return slog.LevelDebug
	}
	return slog.LevelInfo
}

// closeStreams ends every stream when the term ends, so that handlers
// return and clients look for the next leader.
func (m *Master) closeStreams() {
	for id, q := range m.fwStreams {
		q.close()
		delete(m.fwStreams, id)
	}
	for id, q := range m.agentConns {
		q.close()
		delete(m.agentConns, id)
	}
	for id, s := range m.opStreams {
		s.q.close()
		delete(m.opStreams, id)
	}
}

// encodeEvent is encode for a framework's event, in protobuf or JSON.
func encodeEvent(ev *mesos.Event, protobuf bool) []byte {
	if !protobuf {
		return encode(ev)
	}
	b, err := mesospb.MarshalEvent(ev)
	if err != nil {
		slog.Error("dropping an event that cannot be encoded", "type", ev.Type, "err", err)
		return nil
	}
	return b
}

// encode marshals an event. Input is validated on the way in, so a failure
// here is a bug; it is logged and the event dropped rather than taking the
// master down.
func encode(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		slog.Error("dropping an event that cannot be encoded", "type", fmt.Sprintf("%T", v), "err", err)
		return nil
	}
	return b
}
