package job

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
)

// The run states a webhook can be told about (Webhook.On): the final
// states of a run but KILLED, which someone asked for.
const (
	OnFailed    = "FAILED"
	OnSucceeded = "SUCCEEDED"
	OnMissed    = "MISSED"
	OnSkipped   = "SKIPPED"
)

// NotifyStates lists the values Webhook.On may hold, in the order the
// errors name them.
var NotifyStates = []string{OnFailed, OnSucceeded, OnMissed, OnSkipped}

// DefaultOn is what a webhook that names no states is told about.
const DefaultOn = OnFailed

// Bounds of a job's webhooks.
const (
	// MaxWebhooks bounds the webhooks of one job: each ended run is
	// POSTed to every one of them.
	MaxWebhooks = 10
	// MaxWebhookURLLen bounds a webhook's URL, in bytes.
	MaxWebhookURLLen = 2048
)

// Webhook is a URL the jobs framework POSTs a JSON notification to when
// one of the job's runs ends in a state On names. Normalize upper-cases On
// and fills in DefaultOn when it is nil; an empty, non-nil On (given as
// []) is left for Validate to refuse.
type Webhook struct {
	URL string
	On  []string
}

// Wants reports whether the webhook is to be told that a run ended in
// state.
func (w Webhook) Wants(state string) bool { return slices.Contains(w.On, state) }

// ValidWebhookURL returns nil if u can be a webhook's URL: an absolute
// http or https URL with a host, of at most MaxWebhookURLLen bytes. It
// says nothing of whether the host answers.
func ValidWebhookURL(u string) error {
	if u == "" {
		return errors.New("a URL is required")
	}
	if len(u) > MaxWebhookURLLen {
		return fmt.Errorf("a URL has at most %d bytes (got %d)", MaxWebhookURLLen, len(u))
	}
	p, err := url.Parse(u)
	switch {
	case err != nil:
		return fmt.Errorf("%q is not a URL: %v", u, unwrapURLError(err))
	case p.Scheme != "http" && p.Scheme != "https" || p.Opaque != "":
		return fmt.Errorf("%q is not an absolute http or https URL", u)
	case p.Hostname() == "":
		return fmt.Errorf("%q has no host", u)
	}
	return nil
}

// unwrapURLError drops url.Parse's repetition of the URL.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// normalizeWebhooks upper-cases the states and fills in DefaultOn for a
// webhook whose On is nil.
func normalizeWebhooks(ws []Webhook) {
	for i := range ws {
		if ws[i].On == nil {
			ws[i].On = []string{DefaultOn}
			continue
		}
		for k, s := range ws[i].On {
			ws[i].On[k] = strings.ToUpper(strings.TrimSpace(s))
		}
	}
}

// validateWebhooks checks /webhooks: at most MaxWebhooks, each with a
// valid URL (ValidWebhookURL) not given twice, and at least one state of
// NotifyStates, none twice.
func validateWebhooks(v *collector, ws []Webhook) {
	if len(ws) > MaxWebhooks {
		v.add("/webhooks", fmt.Sprintf("a job has at most %d webhooks (got %d)", MaxWebhooks, len(ws)))
	}
	for i, w := range ws {
		path := fmt.Sprintf("/webhooks(%d)", i)
		if err := ValidWebhookURL(w.URL); err != nil {
			v.add(path+"/url", err.Error())
		} else if slices.IndexFunc(ws, func(o Webhook) bool { return o.URL == w.URL }) < i {
			v.add(path+"/url", fmt.Sprintf("duplicate webhook %q; list the states it wants in one entry", w.URL))
		}
		if len(w.On) == 0 {
			v.add(path+"/on", "must name at least one of "+strings.Join(NotifyStates, ", ")+" (or be left out, for "+DefaultOn+")")
		}
		for k, s := range w.On {
			switch {
			case !slices.Contains(NotifyStates, s):
				v.add(fmt.Sprintf("%s/on(%d)", path, k), fmt.Sprintf("must be one of %s (got %q)", strings.Join(NotifyStates, ", "), s))
			case slices.Index(w.On, s) < k:
				v.add(fmt.Sprintf("%s/on(%d)", path, k), fmt.Sprintf("duplicate state %q", s))
			}
		}
	}
}

// webhookWire is the JSON shape of a webhook, in both formats.
type webhookWire struct {
	URL string   `json:"url"`
	On  []string `json:"on"`
}

// webhooksJSON is the JSON of a job's webhooks: [] for none, and each
// webhook's states as a list.
func webhooksJSON(ws []Webhook) []webhookWire {
	out := make([]webhookWire, 0, len(ws))
	for _, w := range ws {
		out = append(out, webhookWire{URL: w.URL, On: nonNil(slices.Clone(w.On))})
	}
	return out
}

// webhooks reads [{"url": …, "on": […]}]. An absent "on" stays nil (the
// default, see Normalize); a given empty one becomes an empty, non-nil
// list, which Validate refuses. Unknown fields of an entry are warnings.
func (d *decoder) webhooks(path string, raw json.RawMessage, dst *[]Webhook) {
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		d.types.add(path, `must be an array of {"url", "on"} objects`)
		return
	}
	var out []Webhook
	for i, item := range items {
		p := fmt.Sprintf("%s(%d)", path, i)
		fields, ok := d.object(p, item)
		if !ok {
			continue
		}
		d.warnUnknown(p, item, func(k string) bool { return k == "url" || k == "on" })
		var w Webhook
		if raw, ok := fields["url"]; ok {
			d.str(p+"/url", raw, &w.URL)
		}
		if raw, ok := fields["on"]; ok {
			d.strings(p+"/on", raw, &w.On)
			if w.On == nil {
				w.On = []string{}
			}
		}
		out = append(out, w)
	}
	*dst = out
}

// cloneWebhooks returns a deep copy of ws.
func cloneWebhooks(ws []Webhook) []Webhook {
	if ws == nil {
		return nil
	}
	out := make([]Webhook, len(ws))
	for i, w := range ws {
		out[i] = Webhook{URL: w.URL, On: slices.Clone(w.On)}
	}
	return out
}
