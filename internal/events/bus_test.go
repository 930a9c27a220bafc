package events

import (
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

var fixedNow = time.Date(2026, 3, 1, 23, 29, 30, 158_000_000, time.UTC)

func newTestBus(capacity int, firstID uint64) *Bus {
	b := NewBus(capacity, firstID)
	b.Now = func() time.Time { return fixedNow }
	return b
}

// receive takes n events from sub, failing if they do not come promptly.
func receive(t *testing.T, sub *Subscription, n int) []Event {
	t.Helper()
	var got []Event
	timeout := time.After(5 * time.Second)
	for len(got) < n {
		select {
		case ev, ok := <-sub.C():
			if !ok {
				t.Fatalf("subscription closed after %d of %d events (err %v)", len(got), n, sub.Err())
			}
			got = append(got, ev)
		case <-timeout:
			t.Fatalf("received %d of %d events", len(got), n)
		}
	}
	return got
}

// pending returns the events sub holds without waiting.
func pending(sub *Subscription) []Event {
	var got []Event
	for {
		select {
		case ev, ok := <-sub.C():
			if !ok {
				return got
			}
			got = append(got, ev)
		default:
			return got
		}
	}
}

func ids(evs []Event) []uint64 {
	out := make([]uint64, len(evs))
	for i, ev := range evs {
		out[i] = ev.ID
	}
	return out
}

func TestPublishOrderAndIDs(t *testing.T) {
	b := newTestBus(16, 100)
	sub := b.Subscribe(nil, 0)
	defer sub.Close()
	for i, typ := range []string{"a", "b", "a"} {
		ev := b.Publish(typ, map[string]int{"n": i})
		if ev.ID != uint64(100+i) || ev.Type != typ {
			t.Errorf("Publish #%d = id %d type %q; want id %d type %q", i, ev.ID, ev.Type, 100+i, typ)
		}
	}
	got := receive(t, sub, 3)
	want := []Event{
		{ID: 100, Type: "a", Data: json.RawMessage(`{"n":0,"eventType":"a","timestamp":"2026-03-01T23:29:30.158Z"}`)},
		{ID: 101, Type: "b", Data: json.RawMessage(`{"n":1,"eventType":"b","timestamp":"2026-03-01T23:29:30.158Z"}`)},
		{ID: 102, Type: "a", Data: json.RawMessage(`{"n":2,"eventType":"a","timestamp":"2026-03-01T23:29:30.158Z"}`)},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
}

func TestFirstIDZero(t *testing.T) {
	b := NewBus(4, 0)
	if ev := b.Publish("a", nil); ev.ID != 1 {
		t.Errorf("first id with firstID 0 = %d; want 1", ev.ID)
	}
}

func TestConcurrentPublishersKeepIDOrder(t *testing.T) {
	b := NewBus(0, 1)
	sub := b.Subscribe(nil, 0)
	defer sub.Close()
	const publishers, each = 4, 200
	var wg sync.WaitGroup
	for range publishers {
		wg.Go(func() {
			for range each {
				b.Publish("a", nil)
			}
		})
	}
	wg.Wait()
	got := receive(t, sub, publishers*each)
	for i, ev := range got {
		if ev.ID != uint64(i+1) {
			t.Fatalf("event #%d has id %d; want %d (ids in order, without gaps)", i, ev.ID, i+1)
		}
	}
}

func TestPayloadEncoding(t *testing.T) {
	type status struct {
		TaskID string `json:"taskId"`
		AppID  string `json:"appId"`
	}
	const ts = `"timestamp":"2026-03-01T23:29:30.158Z"`
	cases := []struct {
		name    string
		payload any
		want    string
	}{
		{"struct", status{"t1", "/a"}, `{"taskId":"t1","appId":"/a","eventType":"x",` + ts + `}`},
		{"pointer", &status{"t1", "/a"}, `{"taskId":"t1","appId":"/a","eventType":"x",` + ts + `}`},
		{"map", map[string]any{"b": 1, "a": true}, `{"a":true,"b":1,"eventType":"x",` + ts + `}`},
		{"nil", nil, `{"eventType":"x",` + ts + `}`},
		{"empty map", map[string]any{}, `{"eventType":"x",` + ts + `}`},
		{"raw with spaces", json.RawMessage("{ \"a\" :\n 1 }"), `{"a":1,"eventType":"x",` + ts + `}`},
		{"own eventType kept", map[string]string{"eventType": "y"}, `{"eventType":"y",` + ts + `}`},
		{"own timestamp kept", map[string]string{"timestamp": "then"}, `{"timestamp":"then","eventType":"x"}`},
		{"both kept", json.RawMessage(`{"eventType":"y","timestamp":"then"}`), `{"eventType":"y","timestamp":"then"}`},
		{"not an object", []int{1, 2}, `{"error":"x payload is not a JSON object: [1,2]","eventType":"x",` + ts + `}`},
		{"unencodable", map[string]any{"f": func() {}}, ``},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := newTestBus(1, 1)
			ev := b.Publish("x", c.payload)
			if !json.Valid(ev.Data) {
				t.Fatalf("Publish(%v).Data = %s; not valid JSON", c.payload, ev.Data)
			}
			if c.want == "" {
				var m map[string]any
				if err := json.Unmarshal(ev.Data, &m); err != nil || m["error"] == nil || m["eventType"] != "x" {
					t.Errorf("Publish(unencodable).Data = %s; want an error field and eventType", ev.Data)
				}
				return
			}
			if string(ev.Data) != c.want {
				t.Errorf("Publish(%v).Data = %s; want %s", c.payload, ev.Data, c.want)
			}
		})
	}
}

func TestFilter(t *testing.T) {
	b := newTestBus(16, 1)
	some := b.Subscribe([]string{"a", "c", ""}, 0)
	defer some.Close()
	all := b.Subscribe([]string{""}, 0) // only empty names: every type
	defer all.Close()
	for _, typ := range []string{"a", "b", "c", "d", "a"} {
		b.Publish(typ, nil)
	}
	if got, want := ids(pending(some)), []uint64{1, 3, 5}; !cmp.Equal(got, want) {
		t.Errorf("filtered ids = %v; want %v", got, want)
	}
	if got, want := ids(pending(all)), []uint64{1, 2, 3, 4, 5}; !cmp.Equal(got, want) {
		t.Errorf("unfiltered ids = %v; want %v", got, want)
	}
}

func TestReplay(t *testing.T) {
	// A ring of 5 after 8 events (ids 1..8) holds 4..8.
	b := newTestBus(5, 1)
	for i := range 8 {
		typ := "a"
		if i%2 == 1 {
			typ = "b"
		}
		b.Publish(typ, nil)
	}
	cases := []struct {
		name       string
		types      []string
		last       uint64
		wantIDs    []uint64
		wantMissed bool
	}{
		{"no last id", nil, 0, nil, false},
		{"recent", nil, 5, []uint64{6, 7, 8}, false},
		{"latest", nil, 8, nil, false},
		{"just before the ring", nil, 3, []uint64{4, 5, 6, 7, 8}, false},
		{"older than the ring", nil, 1, []uint64{4, 5, 6, 7, 8}, true},
		{"from another process", nil, 100, nil, true},
		{"filtered", []string{"b"}, 3, []uint64{4, 6, 8}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sub := b.Subscribe(c.types, c.last)
			defer sub.Close()
			if got := ids(pending(sub)); !cmp.Equal(got, c.wantIDs, cmpopts.EquateEmpty()) {
				t.Errorf("Subscribe(%v, %d) replayed %v; want %v", c.types, c.last, got, c.wantIDs)
			}
			if sub.Missed() != c.wantMissed {
				t.Errorf("Subscribe(%v, %d).Missed() = %v; want %v", c.types, c.last, sub.Missed(), c.wantMissed)
			}
		})
	}

	// Live events follow the replay without a gap or a duplicate.
	sub := b.Subscribe(nil, 6)
	defer sub.Close()
	b.Publish("a", nil)
	if got, want := ids(receive(t, sub, 3)), []uint64{7, 8, 9}; !cmp.Equal(got, want) {
		t.Errorf("replay then live = %v; want %v", got, want)
	}
}

func TestReplayLargerThanBuffer(t *testing.T) {
	b := newTestBus(100, 1)
	b.SubscriberBuffer = 4
	for range 50 {
		b.Publish("a", nil)
	}
	sub := b.Subscribe(nil, 10)
	defer sub.Close()
	for range 4 { // the buffer's worth of live events still fits
		b.Publish("a", nil)
	}
	got := pending(sub)
	if len(got) != 44 || got[0].ID != 11 || got[43].ID != 54 {
		t.Errorf("replayed and live ids = %v; want 11..54", ids(got))
	}
	if sub.Err() != nil {
		t.Errorf("Err() = %v; want nil", sub.Err())
	}
}

func TestEmptyRing(t *testing.T) {
	b := newTestBus(0, 10)
	sub := b.Subscribe(nil, 9)
	defer sub.Close()
	if sub.Missed() {
		t.Error("Subscribe(last = firstID-1) on a fresh bus: Missed() = true; want false")
	}
	b.Publish("a", nil)
	b.Publish("a", nil)
	if got := ids(receive(t, sub, 2)); !cmp.Equal(got, []uint64{10, 11}) {
		t.Errorf("ids = %v; want [10 11]", got)
	}
	late := b.Subscribe(nil, 10)
	defer late.Close()
	if !late.Missed() || len(pending(late)) != 0 {
		t.Error("Subscribe after the ringless bus published: want Missed and nothing replayed")
	}
}

func TestSlowSubscriberIsClosed(t *testing.T) {
	b := newTestBus(8, 1)
	b.SubscriberBuffer = 4
	slow := b.Subscribe(nil, 0) // never read until the end
	fast := b.Subscribe(nil, 0)
	defer fast.Close()

	const n = 100
	var got []Event
	acks := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev := range fast.C() {
			got = append(got, ev)
			acks <- struct{}{}
			if len(got) == n {
				return
			}
		}
	}()
	for i := range n {
		// Each Publish returns although slow's buffer is full after 4; the
		// ack keeps the fast subscriber within its small buffer.
		b.Publish("a", nil)
		select {
		case <-acks:
		case <-time.After(10 * time.Second):
			t.Fatalf("fast subscriber did not get event %d", i+1)
		}
	}
	<-done
	if len(got) != n {
		t.Errorf("fast subscriber got %d events; want %d", len(got), n)
	}

	// The slow one keeps what fit, then its channel is closed with a reason.
	if got := ids(pending(slow)); !cmp.Equal(got, []uint64{1, 2, 3, 4}) {
		t.Errorf("slow subscriber got %v; want [1 2 3 4]", got)
	}
	if _, ok := <-slow.C(); ok {
		t.Error("slow subscriber's channel still open")
	}
	if !errors.Is(slow.Err(), ErrSlowSubscriber) {
		t.Errorf("slow.Err() = %v; want ErrSlowSubscriber", slow.Err())
	}
	slow.Close() // idempotent after the bus closed it
	if n := b.Subscribers(); n != 1 {
		t.Errorf("Subscribers() = %d; want 1 (the fast one)", n)
	}
}

func TestCloseSubscriptionAndBus(t *testing.T) {
	b := newTestBus(8, 1)
	sub := b.Subscribe(nil, 0)
	sub.Close()
	sub.Close()
	if _, ok := <-sub.C(); ok || sub.Err() != nil {
		t.Errorf("after Close: channel open %v, Err %v; want closed, nil", ok, sub.Err())
	}
	b.Publish("a", nil) // must not send on the closed channel

	open := b.Subscribe(nil, 0)
	b.Close()
	b.Close()
	if _, ok := <-open.C(); ok || !errors.Is(open.Err(), ErrBusClosed) {
		t.Errorf("after bus Close: channel open %v, Err %v; want closed, ErrBusClosed", ok, open.Err())
	}
	late := b.Subscribe(nil, 1)
	if _, ok := <-late.C(); ok || !errors.Is(late.Err(), ErrBusClosed) {
		t.Errorf("Subscribe after bus Close: channel open %v, Err %v; want closed, ErrBusClosed", ok, late.Err())
	}
	late.Close()
	if n := b.Subscribers(); n != 0 {
		t.Errorf("Subscribers() = %d; want 0", n)
	}
}

func TestStartID(t *testing.T) {
	t1 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if a, b := StartID(t1), StartID(t1.Add(time.Millisecond)); b-a != 1000 {
		t.Errorf("StartID a millisecond apart differs by %d; want 1000", b-a)
	}
	if got := StartID(time.Unix(-5, 0)); got != 0 {
		t.Errorf("StartID(before 1970) = %d; want 0", got)
	}
	if got := StartID(time.Date(2255, 1, 1, 0, 0, 0, 0, time.UTC)); got >= 1<<53 {
		t.Errorf("StartID(2255) = %d; want < 2^53", got)
	}
}
