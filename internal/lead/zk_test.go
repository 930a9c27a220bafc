package lead

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"corral/internal/testzk"
)

func TestZKElection(t *testing.T) {
	z := testzk.Start(t, 1)
	ma, mb := Member{ID: "a", URL: "http://a:8080"}, Member{ID: "b", URL: "http://b:8080"}
	opts := ZKOptions{SessionTimeout: 4 * time.Second, Prefix: "services_", Logger: logger(t)}
	ea, err := NewZK(z.URL("/corral/services"), ma, opts)
	if err != nil {
		t.Fatal(err)
	}
	eb, err := NewZK(z.URL("/corral/services"), mb, opts)
	if err != nil {
		t.Fatal(err)
	}
	a := contend(t, ea)
	eventually(t, "a leads", a.leading.Load)
	b := contend(t, eb)
	eventually(t, "b knows a leads", func() bool { l, ok := eb.Leader(); return ok && l.Same(ma) })
	l, _ := eb.Leader()
	if l.ID != ma.ID || l.URL != ma.URL || string(l.Data) != string(EncodeMember(ma)) {
		t.Errorf("b.Leader() = %+v (data %s); want a with what it published", l, l.Data)
	}
	if !ea.IsLeader() || eb.IsLeader() || b.leading.Load() {
		t.Errorf("IsLeader: a %v, b %v; b leading %v; want a only", ea.IsLeader(), eb.IsLeader(), b.leading.Load())
	}

	// A term that returns by itself hands leadership over at once.
	a.resign()
	eventually(t, "b leads", b.leading.Load)
	eventually(t, "a knows b leads", func() bool { l, ok := ea.Leader(); return ok && l.Same(mb) })

	// A clean stop hands it back without waiting for the session.
	start := time.Now()
	b.stop(t)
	eventually(t, "a leads again", a.leading.Load)
	if d := time.Since(start); d >= opts.SessionTimeout {
		t.Errorf("hand-over after a clean stop took %v; want less than the session timeout", d)
	}
}

// A component that publishes its own data (the masters' MasterInfo JSON)
// reads its members with its own parser.
func TestZKOwnData(t *testing.T) {
	z := testzk.Start(t, 1)
	type info struct {
		ID       string `json:"id"`
		Hostname string `json:"hostname"`
		Port     int    `json:"port"`
	}
	parse := func(b []byte) (Member, error) {
		var mi info
		if err := json.Unmarshal(b, &mi); err != nil {
			return Member{}, err
		}
		if mi.Hostname == "" {
			return Member{}, errors.New("no hostname")
		}
		return Member{ID: mi.ID, URL: fmt.Sprintf("http://%s:%d", mi.Hostname, mi.Port)}, nil
	}
	data, _ := json.Marshal(info{ID: "run-1", Hostname: "m1", Port: 5050})
	e, err := NewZK(z.URL("/corral"), Member{ID: "run-1"}, ZKOptions{Data: data, Parse: parse, Logger: logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	c := contend(t, e)
	eventually(t, "it leads", c.leading.Load)
	l, ok := e.Leader()
	if !ok || l.ID != "run-1" || l.URL != "http://m1:5050" || string(l.Data) != string(data) {
		t.Errorf("Leader() = %+v (data %s), %v; want run-1 at http://m1:5050 with its data", l, l.Data, ok)
	}
}

func TestNewZKBadURL(t *testing.T) {
	for _, u := range []string{"", "http://h:2181/x", "zk://h:2181", "zk://h/x"} {
		if _, err := NewZK(u, Member{}, ZKOptions{}); err == nil {
			t.Errorf("NewZK(%q) = nil error; want the URL refused", u)
		}
	}
}
