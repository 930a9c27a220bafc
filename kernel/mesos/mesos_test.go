package mesos

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/google/go-cmp/cmp"
)

// roundTrip decodes a golden file into v, encodes it again and checks that
// the result is the same JSON document: every field of the Mesos examples
// is understood and written back under the same name and shape.
func roundTrip(t *testing.T, file string, v any) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		t.Fatalf("decoding %s: %v", file, err)
	}
	out, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var want, got any
	_ = json.Unmarshal(raw, &want)
	_ = json.Unmarshal(out, &got)
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("%s: round trip differs (-golden +ours):\n%s", file, d)
	}
}

func TestGoldenShapes(t *testing.T) {
	for _, tc := range []struct {
		file string
		v    any
	}{
		{"subscribe.json", &Call{}},
		{"accept.json", &Call{}},
		{"acknowledge.json", &Call{}},
		{"reconcile.json", &Call{}},
		{"subscribed.json", &Event{}},
		{"offers.json", &Event{}},
		{"update.json", &Event{}},
		{"error.json", &Event{}},
		{"heartbeat.json", &Event{}},
	} {
		t.Run(tc.file, func(t *testing.T) { roundTrip(t, tc.file, tc.v) })
	}
}

func TestOffersNesting(t *testing.T) {
	var ev Event
	raw, _ := os.ReadFile("testdata/offers.json")
	if err := json.Unmarshal(raw, &ev); err != nil {
		t.Fatal(err)
	}
	if ev.Offers == nil || len(ev.Offers.Offers) != 1 {
		t.Fatalf("offers.offers[] not decoded: %+v", ev.Offers)
	}
	o := ev.Offers.Offers[0]
	if o.Resources[2].Ranges.Range[0].End != 32000 || o.Attributes[0].Text.Value != "ubuntu16.04" {
		t.Errorf("offer decoded wrongly: %+v", o)
	}
}

func TestLenientNumbers(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     float64
		wantErr  bool
	}{
		{"number", `{"refuse_seconds": 5}`, 5, false},
		{"string", `{"refuse_seconds": "2.5"}`, 2.5, false},
		{"null", `{"refuse_seconds": null}`, -1, false},
		{"garbage", `{"refuse_seconds": "soon"}`, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var f Filters
			err := json.Unmarshal([]byte(tc.in), &f)
			if (err != nil) != tc.wantErr {
				t.Fatalf("Unmarshal(%s) err = %v; wantErr %v", tc.in, err, tc.wantErr)
			}
			if tc.wantErr {
				return
			}
			got := -1.0
			if f.RefuseSeconds != nil {
				got = float64(*f.RefuseSeconds)
			}
			if got != tc.want {
				t.Errorf("Unmarshal(%s) = %v; want %v", tc.in, got, tc.want)
			}
		})
	}
	var r Range
	if err := json.Unmarshal([]byte(`{"begin":"31000","end":31005.0}`), &r); err != nil || r.Begin != 31000 || r.End != 31005 {
		t.Errorf("Range from strings = %+v, %v", r, err)
	}
	if err := json.Unmarshal([]byte(`{"begin":-1,"end":2}`), &r); err == nil {
		t.Error("negative range bound accepted")
	}
	var c Call
	if err := json.Unmarshal([]byte(`{"type":"DECLINE","unknown_field":{"x":1},"decline":{"offer_ids":[]}}`), &c); err != nil {
		t.Errorf("unknown fields must be ignored: %v", err)
	}
}

func TestRecordIO(t *testing.T) {
	var buf bytes.Buffer
	recs := []string{`{"type":"SUBSCRIBED"}`, `{"type":"HEARTBEAT"}`, strings.Repeat("x", 100000)}
	for _, r := range recs {
		if err := WriteRecord(&buf, []byte(r)); err != nil {
			t.Fatal(err)
		}
	}
	if !strings.HasPrefix(buf.String(), "21\n{\"type\":\"SUBSCRIBED\"}20\n") {
		t.Fatalf("framing = %q", buf.String()[:40])
	}
	// Chunk boundaries must not matter: read one byte at a time.
	rd := NewReader(iotest.OneByteReader(bytes.NewReader(buf.Bytes())))
	for i, want := range recs {
		got, err := rd.Next()
		if err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		if string(got) != want {
			t.Errorf("record %d = %.30q; want %.30q", i, got, want)
		}
	}
	if _, err := rd.Next(); err != io.EOF {
		t.Errorf("at end: err = %v; want io.EOF", err)
	}
	if err := WriteRecord(&buf, nil); err == nil {
		t.Error("empty record accepted")
	}
}

func TestRecordIOErrors(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     error
	}{
		{"truncated data", "10\n{\"a\":", io.ErrUnexpectedEOF},
		{"truncated length", "12", io.ErrUnexpectedEOF},
		{"bad length", "1x\nabc", nil},
		{"zero length", "0\n", nil},
		{"huge length", "99999999999\n", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewReader(strings.NewReader(tc.in)).Next()
			if err == nil {
				t.Fatalf("Next(%q) succeeded", tc.in)
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("Next(%q) err = %v; want %v", tc.in, err, tc.want)
			}
		})
	}
}

func TestTaskStates(t *testing.T) {
	for _, s := range []TaskState{TaskFinished, TaskFailed, TaskKilled, TaskError, TaskLost, TaskDropped, TaskGone, TaskGoneByOperator} {
		if !s.Terminal() {
			t.Errorf("%s.Terminal() = false", s)
		}
	}
	for _, s := range []TaskState{TaskStaging, TaskStarting, TaskRunning, TaskKilling, TaskUnreachable, TaskUnknown} {
		if s.Terminal() {
			t.Errorf("%s.Terminal() = true", s)
		}
	}
	if !TaskUnreachable.PartitionAwareOnly() || TaskLost.PartitionAwareOnly() {
		t.Error("PartitionAwareOnly wrong")
	}
	fi := FrameworkInfo{Role: "a"}
	if got := fi.EffectiveRoles(); len(got) != 1 || got[0] != "a" {
		t.Errorf("EffectiveRoles = %v", got)
	}
	fi = FrameworkInfo{Roles: []string{"x", "y"}, Capabilities: []Capability{{Type: CapMultiRole}}}
	if got := fi.EffectiveRoles(); len(got) != 2 {
		t.Errorf("EffectiveRoles = %v", got)
	}
}
