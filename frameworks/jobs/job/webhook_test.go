package job

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestValidWebhookURL(t *testing.T) {
	tests := []struct {
		url  string
		want string // a part of the error; "" for none
	}{
		{"https://hooks.example.com/T0/B1/x", ""},
		{"http://10.0.0.1:8080/hook?token=t", ""},
		{"HTTPS://Hooks.Example.com/", ""},
		{"https://user:pass@h.example/", ""},
		{"http://[::1]:9/", ""},
		{"", "a URL is required"},
		{"/relative/path", "is not an absolute http or https URL"},
		{"hooks.example.com/x", "is not an absolute http or https URL"},
		{"ftp://h.example/x", "is not an absolute http or https URL"},
		{"mailto:ops@example.com", "is not an absolute http or https URL"},
		{"http:opaque", "is not an absolute http or https URL"},
		{"https://", "has no host"},
		{"https://:80/", "has no host"},
		{"https://h.example/%zz", "is not a URL"},
		{"https://h example/", "is not a URL"},
		{"https://h.example/" + strings.Repeat("x", MaxWebhookURLLen), "at most 2048 bytes"},
	}
	for _, tt := range tests {
		err := ValidWebhookURL(tt.url)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("ValidWebhookURL(%q) = %v; want nil", tt.url, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("ValidWebhookURL(%q) = %v; want an error saying %q", tt.url, err, tt.want)
		}
	}
}

// TestDecodeWebhooks: both formats read webhooks alike; Normalize gives a
// webhook without states the default and upper-cases the states given.
func TestDecodeWebhooks(t *testing.T) {
	body := `{"name":"a","command":"true","schedule":"@daily","webhooks":[` +
		`{"url":"https://h.example/a"},` +
		`{"url":"https://h.example/b","on":["failed"," Succeeded ","MISSED","SKIPPED"],"secret":"s"},` +
		`{"url":"https://h.example/c","on":[]}]}`
	want := []Webhook{
		{URL: "https://h.example/a", On: []string{OnFailed}},
		{URL: "https://h.example/b", On: []string{OnFailed, OnSucceeded, OnMissed, OnSkipped}},
		{URL: "https://h.example/c", On: []string{}},
	}
	for _, dec := range decoders {
		t.Run(dec.format, func(t *testing.T) {
			j, ws, err := dec.decode([]byte(body), fw)
			if err != nil {
				t.Fatalf("Decode%s = %v", dec.format, err)
			}
			if j.Webhooks[0].On != nil || j.Webhooks[2].On == nil {
				t.Errorf("Decode%s webhooks = %#v; want an absent on nil, a given [] empty", dec.format, j.Webhooks)
			}
			if d := cmp.Diff([]Warning{{Path: "/webhooks(1)/secret"}}, ws); d != "" {
				t.Errorf("Decode%s warnings (-want +got):\n%s", dec.format, d)
			}
			j.Normalize()
			if d := cmp.Diff(want, j.Webhooks); d != "" {
				t.Errorf("Decode%s, Normalize: webhooks (-want +got):\n%s", dec.format, d)
			}
			// The one given [] is refused; the rest are valid.
			if d := cmp.Diff([]string{"/webhooks(2)/on"}, pathsOf(Validate(j, fakeParse))); d != "" {
				t.Errorf("Validate paths (-want +got):\n%s", d)
			}
		})
	}
}

func TestDecodeWebhooksTypes(t *testing.T) {
	tests := []struct {
		name  string
		hooks string
		paths []string
	}{
		{"not a list", `"https://h.example/"`, []string{"/webhooks"}},
		{"an entry not an object", `["https://h.example/"]`, []string{"/webhooks(0)"}},
		{"url not a string", `[{"url":1}]`, []string{"/webhooks(0)/url"}},
		{"on not a list", `[{"url":"https://h.example/","on":"FAILED"}]`, []string{"/webhooks(0)/on"}},
		{"a state not a string", `[{"url":"https://h.example/","on":["FAILED",2]}]`, []string{"/webhooks(0)/on(1)"}},
	}
	for _, dec := range decoders {
		for _, tt := range tests {
			t.Run(dec.format+"/"+tt.name, func(t *testing.T) {
				body := `{"name":"a","command":"true","webhooks":` + tt.hooks + `}`
				_, _, err := dec.decode([]byte(body), fw)
				var ij *InvalidJSON
				if !errors.As(err, &ij) {
					t.Fatalf("Decode%s(%s) = %v; want *InvalidJSON", dec.format, body, err)
				}
				if d := cmp.Diff(tt.paths, pathsOf(err)); d != "" {
					t.Errorf("Decode%s(%s) paths (-want +got):\n%s", dec.format, body, d)
				}
			})
		}
	}
}

func TestValidateWebhooks(t *testing.T) {
	hook := func(url string, on ...string) Webhook { return Webhook{URL: url, On: on} }
	many := make([]Webhook, MaxWebhooks+1)
	for i := range many {
		many[i] = hook(fmt.Sprintf("https://h.example/%d", i), OnFailed)
	}
	tests := []struct {
		name  string
		hooks []Webhook
		want  []Detail
	}{
		{"none", nil, nil},
		{"every state", []Webhook{hook("https://h.example/", NotifyStates...)}, nil},
		{"one each", []Webhook{hook("https://a.example/", OnFailed), hook("http://b.example/", OnSkipped)}, nil},
		{"a relative URL", []Webhook{hook("/hook", OnFailed)},
			[]Detail{{"/webhooks(0)/url", []string{`"/hook" is not an absolute http or https URL`}}}},
		{"no URL", []Webhook{hook("", OnFailed)},
			[]Detail{{"/webhooks(0)/url", []string{"a URL is required"}}}},
		{"a URL twice", []Webhook{hook("https://a.example/", OnFailed), hook("https://a.example/", OnMissed)},
			[]Detail{{"/webhooks(1)/url", []string{`duplicate webhook "https://a.example/"; list the states it wants in one entry`}}}},
		{"no state", []Webhook{{URL: "https://a.example/", On: []string{}}},
			[]Detail{{"/webhooks(0)/on", []string{"must name at least one of FAILED, SUCCEEDED, MISSED, SKIPPED (or be left out, for FAILED)"}}}},
		{"KILLED", []Webhook{hook("https://a.example/", OnFailed, "KILLED")},
			[]Detail{{"/webhooks(0)/on(1)", []string{`must be one of FAILED, SUCCEEDED, MISSED, SKIPPED (got "KILLED")`}}}},
		{"a state twice", []Webhook{hook("https://a.example/", OnFailed, OnFailed)},
			[]Detail{{"/webhooks(0)/on(1)", []string{`duplicate state "FAILED"`}}}},
		{"too many", many,
			[]Detail{{"/webhooks", []string{fmt.Sprintf("a job has at most %d webhooks (got %d)", MaxWebhooks, MaxWebhooks+1)}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j := New("a")
			j.Command, j.Schedule, j.Timezone, j.Webhooks = "true", "@daily", "UTC", tt.hooks
			got := Validate(j, fakeParse)
			var details []Detail
			if got != nil {
				details = got.Details
			}
			if d := cmp.Diff(tt.want, details); d != "" {
				t.Errorf("Validate(webhooks %v) details (-want +got):\n%s", tt.hooks, d)
			}
		})
	}
}

// TestWebhooksInViews: the native JSON always lists webhooks; the Chronos
// view only for a job that has some, so that Chronos clients see the
// shape they know.
func TestWebhooksInViews(t *testing.T) {
	j := New("a")
	j.Command, j.Schedule, j.Timezone = "true", "@daily", "UTC"
	native := func(j Job) any {
		b, err := json.Marshal(j)
		if err != nil {
			t.Fatal(err)
		}
		var v map[string]any
		if err := json.Unmarshal(b, &v); err != nil {
			t.Fatal(err)
		}
		return v["webhooks"]
	}
	chronos := func(j Job) any {
		b, err := json.Marshal(ChronosView(j, Stats{}))
		if err != nil {
			t.Fatal(err)
		}
		var v map[string]any
		if err := json.Unmarshal(b, &v); err != nil {
			t.Fatal(err)
		}
		return v["webhooks"]
	}
	if got := native(j); !cmp.Equal(got, []any{}) {
		t.Errorf("native webhooks of a job without any = %#v; want []", got)
	}
	if got := chronos(j); got != nil {
		t.Errorf("Chronos webhooks of a job without any = %#v; want none", got)
	}
	j.Webhooks = []Webhook{{URL: "https://h.example/", On: []string{OnFailed, OnMissed}}}
	want := []any{map[string]any{"url": "https://h.example/", "on": []any{"FAILED", "MISSED"}}}
	for name, view := range map[string]func(Job) any{"native": native, "Chronos": chronos} {
		if got := view(j); !cmp.Equal(got, want) {
			t.Errorf("%s webhooks = %#v; want %#v", name, got, want)
		}
	}
	// What the Chronos view shows, the Chronos decoder reads back.
	b, _ := json.Marshal(ChronosView(j, Stats{}))
	back, _, err := DecodeChronos(b, fw)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(j.Webhooks, back.Webhooks); d != "" {
		t.Errorf("DecodeChronos(ChronosView) webhooks (-want +got):\n%s", d)
	}
}

func TestWebhookWants(t *testing.T) {
	w := Webhook{URL: "https://h.example/", On: []string{OnFailed, OnSkipped}}
	for state, want := range map[string]bool{OnFailed: true, OnSkipped: true, OnSucceeded: false, OnMissed: false, "KILLED": false} {
		if got := w.Wants(state); got != want {
			t.Errorf("Webhook{On: %v}.Wants(%s) = %v; want %v", w.On, state, got, want)
		}
	}
}
