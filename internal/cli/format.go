package cli

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"corral/internal/apiclient"
)

// num formats a quantity for people: at most three decimals, no trailing
// zeros ("0.3", "2048").
func num(f float64) string {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return strconv.FormatFloat(f, 'g', -1, 64)
	}
	return strconv.FormatFloat(math.Round(f*1000)/1000, 'f', -1, 64)
}

// resources is a resource summary as the master's /state shows it.
type resources = apiclient.Resources

// ports renders the port ranges for people: "31000-31099,31500" (a
// range of one port is the port).
func portsText(r resources) string {
	s, _ := r["ports"].(string)
	s = strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(s), "["), "]")
	if s == "" {
		return ""
	}
	var out []string
	for _, rg := range strings.Split(s, ",") {
		rg = strings.TrimSpace(rg)
		if a, b, ok := strings.Cut(rg, "-"); ok && a == b {
			rg = a
		}
		out = append(out, rg)
	}
	return strings.Join(out, ",")
}

// usedOfTotal formats "used/total" for each of cpus, mem and disk.
func usedOfTotal(used, total resources, name string) string {
	return num(used.Scalar(name)) + "/" + num(total.Scalar(name))
}

// parseTime reads the APIs' timestamps (RFC 3339, any precision).
func parseTime(s string) (time.Time, bool) {
	if s == "" {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	return t, err == nil
}

// stamp shortens an API timestamp to second precision, keeping its zone;
// what cannot be parsed is shown as given.
func stamp(s string) string {
	t, ok := parseTime(s)
	if !ok {
		return s
	}
	return t.Truncate(time.Second).Format(time.RFC3339)
}

// stampPtr is stamp of an optional timestamp.
func stampPtr(s *string) string {
	if s == nil {
		return ""
	}
	return stamp(*s)
}

// elapsed is the time from start to end, rounded for people; "" unless
// both parse.
func elapsed(start, end *string) string {
	if start == nil || end == nil {
		return ""
	}
	a, ok1 := parseTime(*start)
	b, ok2 := parseTime(*end)
	if !ok1 || !ok2 {
		return ""
	}
	d := b.Sub(a)
	switch {
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < 10*time.Second:
		return d.Round(100 * time.Millisecond).String()
	case d < time.Hour:
		return d.Round(time.Second).String()
	}
	return d.Round(time.Minute).String()
}

// plural writes "1 task", "2 tasks".
func plural(n int, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}
