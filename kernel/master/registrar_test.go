package master

import (
	"context"
	"errors"
	"log/slog"
	"testing"
)

// Every write the registrar is given is answered once: durable, dropped
// with its error, or errStopped when the master stopped first.
func TestRegistrarAnswersEveryWrite(t *testing.T) {
	refusedErr := errors.New("refused")
	r := newRegistrar(slog.New(slog.DiscardHandler), func(err error) bool { return errors.Is(err, refusedErr) })
	ctx, cancel := context.WithCancel(t.Context())
	ran := make(chan struct{})
	go func() {
		defer close(ran)
		r.run(ctx)
	}()
	if err := <-r.enqueue("ok", func(context.Context) error { return nil }); err != nil {
		t.Errorf("a write that succeeds is answered %v; want nil", err)
	}
	if err := <-r.enqueue("refused", func(context.Context) error { return refusedErr }); !errors.Is(err, refusedErr) {
		t.Errorf("a write refused for good is answered %v; want its error", err)
	}

	// A write that keeps failing holds up the one behind it until the
	// master stops.
	failing := r.enqueue("failing", func(context.Context) error { return errors.New("database away") })
	behind := r.enqueue("behind", func(context.Context) error { return nil })
	cancel()
	<-ran
	for name, d := range map[string]<-chan error{"failing": failing, "behind": behind} {
		if err := <-d; !errors.Is(err, errStopped) {
			t.Errorf("the %s write after the master stopped is answered %v; want errStopped", name, err)
		}
	}
	if err := <-r.enqueue("late", func(context.Context) error { return nil }); !errors.Is(err, errStopped) {
		t.Errorf("a write enqueued after the master stopped is answered %v; want errStopped", err)
	}
}
