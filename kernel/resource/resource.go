package resource

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"

	"corral/kernel/mesos"
)

// Well-known resource names.
const (
	CPUs  = "cpus"
	Mem   = "mem"
	Disk  = "disk"
	GPUs  = "gpus"
	Ports = "ports"
)

// Range is an inclusive range of unsigned integers, such as ports.
type Range struct {
	Begin, End uint64
}

// Resources is an immutable bag of named scalars, ranges and sets. The zero
// value is empty and ready to use.
type Resources struct {
	scalars map[string]int64   // milli-units, always > 0
	ranges  map[string][]Range // sorted, coalesced, non-empty
	sets    map[string][]string
}

// MaxScalar is the largest amount Parse and FromWire accept: beyond it the
// fixed-point value would overflow int64 (and sums soon after).
const MaxScalar = 1e15

// milli converts a float to fixed point with three decimals, rounding to
// nearest as Mesos' Value::Scalar arithmetic does.
func milli(v float64) int64 { return int64(math.Round(v * 1000)) }

// Scalar returns a Resources holding only name = v. A value that rounds to
// zero or below yields an empty value.
func Scalar(name string, v float64) Resources {
	var r Resources
	if m := milli(v); m > 0 {
		r.scalars = map[string]int64{name: m}
	}
	return r
}

// RangesOf returns a Resources holding only the given ranges under name.
func RangesOf(name string, rs ...Range) Resources {
	var r Resources
	if c := coalesce(rs); len(c) > 0 {
		r.ranges = map[string][]Range{name: c}
	}
	return r
}

// SetOf returns a Resources holding only the given set items under name.
func SetOf(name string, items ...string) Resources {
	var r Resources
	if s := normSet(items); len(s) > 0 {
		r.sets = map[string][]string{name: s}
	}
	return r
}

// Scalar returns the amount of the named scalar resource (0 when absent).
func (r Resources) Scalar(name string) float64 { return float64(r.scalars[name]) / 1000 }

// ScalarNames returns the names of the scalar resources present, sorted.
func (r Resources) ScalarNames() []string { return sortedKeys(r.scalars) }

// Ranges returns the named ranges, sorted and coalesced. The caller must not
// modify the returned slice.
func (r Resources) Ranges(name string) []Range { return r.ranges[name] }

// Set returns the named set's items, sorted. The caller must not modify it.
func (r Resources) Set(name string) []string { return r.sets[name] }

// IsEmpty reports whether r holds nothing.
func (r Resources) IsEmpty() bool {
	return len(r.scalars) == 0 && len(r.ranges) == 0 && len(r.sets) == 0
}

// Equal reports whether r and o hold exactly the same resources.
func (r Resources) Equal(o Resources) bool { return r.Contains(o) && o.Contains(r) }

// Add returns r + o.
func (r Resources) Add(o Resources) Resources {
	if o.IsEmpty() {
		return r
	}
	if r.IsEmpty() {
		return o
	}
	out := r.clone()
	for n, v := range o.scalars {
		if out.scalars == nil {
			out.scalars = map[string]int64{}
		}
		out.scalars[n] += v
	}
	for n, v := range o.ranges {
		if out.ranges == nil {
			out.ranges = map[string][]Range{}
		}
		out.ranges[n] = coalesce(append(slices.Clone(out.ranges[n]), v...))
	}
	for n, v := range o.sets {
		if out.sets == nil {
			out.sets = map[string][]string{}
		}
		out.sets[n] = normSet(append(slices.Clone(out.sets[n]), v...))
	}
	return out
}

// Sub returns r - o, saturating: amounts of o not held by r are ignored.
// Use Contains first where over-subtraction is an error.
func (r Resources) Sub(o Resources) Resources {
	if o.IsEmpty() || r.IsEmpty() {
		return r
	}
	out := r.clone()
	for n, v := range o.scalars {
		if left := out.scalars[n] - v; left > 0 {
			out.scalars[n] = left
		} else {
			delete(out.scalars, n)
		}
	}
	for n, v := range o.ranges {
		if left := subRanges(out.ranges[n], v); len(left) > 0 {
			out.ranges[n] = left
		} else {
			delete(out.ranges, n)
		}
	}
	for n, v := range o.sets {
		var left []string
		for _, it := range out.sets[n] {
			if !slices.Contains(v, it) {
				left = append(left, it)
			}
		}
		if len(left) > 0 {
			out.sets[n] = left
		} else {
			delete(out.sets, n)
		}
	}
	return out
}

// Contains reports whether o is a subset of r.
func (r Resources) Contains(o Resources) bool {
	for n, v := range o.scalars {
		if r.scalars[n] < v {
			return false
		}
	}
	for n, v := range o.ranges {
		if !containsRanges(r.ranges[n], v) {
			return false
		}
	}
	for n, v := range o.sets {
		for _, it := range v {
			if !slices.Contains(r.sets[n], it) {
				return false
			}
		}
	}
	return true
}

// Missing returns what o needs beyond r (o - r): empty when r contains o.
// It is how "does not fit" is explained.
func (r Resources) Missing(o Resources) Resources { return o.Sub(r) }

// Scalars returns only the scalar part of r.
func (r Resources) Scalars() Resources {
	var out Resources
	if len(r.scalars) > 0 {
		out.scalars = cloneMap(r.scalars)
	}
	return out
}

// NumRangeValues returns how many values the named ranges cover.
func (r Resources) NumRangeValues(name string) uint64 {
	var n uint64
	for _, x := range r.ranges[name] {
		n += x.End - x.Begin + 1
	}
	return n
}

func (r Resources) clone() Resources {
	var out Resources
	if r.scalars != nil {
		out.scalars = cloneMap(r.scalars)
	}
	if r.ranges != nil {
		out.ranges = make(map[string][]Range, len(r.ranges))
		for k, v := range r.ranges {
			out.ranges[k] = v // slices are never mutated in place
		}
	}
	if r.sets != nil {
		out.sets = make(map[string][]string, len(r.sets))
		for k, v := range r.sets {
			out.sets[k] = v
		}
	}
	return out
}

func cloneMap(m map[string]int64) map[string]int64 {
	out := make(map[string]int64, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// sortedKeysIn appends m's keys to ks and sorts them.
func sortedKeysIn[V any](ks []string, m map[string]V) []string {
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func normSet(items []string) []string {
	s := slices.Clone(items)
	sort.Strings(s)
	return slices.Compact(s)
}

// coalesce sorts ranges and merges overlapping or adjacent ones. Ranges with
// Begin > End are dropped.
func coalesce(rs []Range) []Range {
	var in []Range
	for _, x := range rs {
		if x.Begin <= x.End {
			in = append(in, x)
		}
	}
	if len(in) == 0 {
		return nil
	}
	sort.Slice(in, func(i, j int) bool { return in[i].Begin < in[j].Begin })
	out := []Range{in[0]}
	for _, x := range in[1:] {
		last := &out[len(out)-1]
		if x.Begin <= last.End || (last.End != math.MaxUint64 && x.Begin == last.End+1) {
			if x.End > last.End {
				last.End = x.End
			}
			continue
		}
		out = append(out, x)
	}
	return out
}

func subRanges(a, b []Range) []Range {
	var out []Range
	for _, x := range a {
		pieces := []Range{x}
		for _, y := range b {
			var next []Range
			for _, p := range pieces {
				if y.End < p.Begin || y.Begin > p.End {
					next = append(next, p)
					continue
				}
				if y.Begin > p.Begin {
					next = append(next, Range{p.Begin, y.Begin - 1})
				}
				if y.End < p.End {
					next = append(next, Range{y.End + 1, p.End})
				}
			}
			pieces = next
		}
		out = append(out, pieces...)
	}
	return coalesce(out)
}

func containsRanges(have, want []Range) bool {
	for _, w := range want {
		ok := false
		for _, h := range have {
			if h.Begin <= w.Begin && w.End <= h.End {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// String renders r in the text syntax accepted by Parse, names sorted.
func (r Resources) String() string {
	var parts []string
	for _, n := range sortedKeys(r.scalars) {
		parts = append(parts, n+":"+strconv.FormatFloat(r.Scalar(n), 'f', -1, 64))
	}
	for _, n := range sortedKeys(r.ranges) {
		var rs []string
		for _, x := range r.ranges[n] {
			rs = append(rs, fmt.Sprintf("%d-%d", x.Begin, x.End))
		}
		parts = append(parts, n+":["+strings.Join(rs, ",")+"]")
	}
	for _, n := range sortedKeys(r.sets) {
		parts = append(parts, n+":{"+strings.Join(r.sets[n], ",")+"}")
	}
	return strings.Join(parts, ";")
}

// Parse reads the text syntax described in the package doc. Names must be
// non-empty; scalars must be finite, non-negative and at most 10^15; a name
// may not appear twice. Roles ("cpus(role):2") are not supported and are an error.
func Parse(s string) (Resources, error) {
	var out Resources
	seen := map[string]bool{}
	for _, part := range strings.Split(s, ";") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, val, ok := strings.Cut(part, ":")
		name = strings.TrimSpace(name)
		val = strings.TrimSpace(val)
		if !ok || name == "" || val == "" {
			return Resources{}, fmt.Errorf("resource %q: want name:value", part)
		}
		if strings.ContainsAny(name, "()") {
			return Resources{}, fmt.Errorf("resource %q: roles are not supported", part)
		}
		if seen[name] {
			return Resources{}, fmt.Errorf("resource %q given twice", name)
		}
		seen[name] = true
		switch {
		case strings.HasPrefix(val, "["):
			rs, err := parseRanges(val)
			if err != nil {
				return Resources{}, fmt.Errorf("resource %q: %w", name, err)
			}
			out = out.Add(RangesOf(name, rs...))
		case strings.HasPrefix(val, "{"):
			if !strings.HasSuffix(val, "}") {
				return Resources{}, fmt.Errorf("resource %q: set must end with }", name)
			}
			var items []string
			for _, it := range strings.Split(val[1:len(val)-1], ",") {
				if it = strings.TrimSpace(it); it != "" {
					items = append(items, it)
				}
			}
			out = out.Add(SetOf(name, items...))
		default:
			v, err := strconv.ParseFloat(val, 64)
			if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
				return Resources{}, fmt.Errorf("resource %q: %q is not a number", name, val)
			}
			if v < 0 {
				return Resources{}, fmt.Errorf("resource %q: negative amount %v", name, v)
			}
			if v > MaxScalar {
				return Resources{}, fmt.Errorf("resource %q: amount %v is too large (max %g)", name, v, MaxScalar)
			}
			out = out.Add(Scalar(name, v))
		}
	}
	return out, nil
}

func parseRanges(val string) ([]Range, error) {
	if !strings.HasSuffix(val, "]") {
		return nil, errors.New("ranges must end with ]")
	}
	var rs []Range
	for _, p := range strings.Split(val[1:len(val)-1], ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		lo, hi, ok := strings.Cut(p, "-")
		if !ok {
			hi = lo
		}
		b, err1 := strconv.ParseUint(strings.TrimSpace(lo), 10, 64)
		e, err2 := strconv.ParseUint(strings.TrimSpace(hi), 10, 64)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("bad range %q", p)
		}
		if b > e {
			return nil, fmt.Errorf("range %q: begin after end", p)
		}
		rs = append(rs, Range{b, e})
	}
	return rs, nil
}

// FromWire converts Mesos Resource messages; entries with the same name
// add up. Reserved resources (a role other than "*" or a reservation stack)
// are not supported and are an error, as is a name used with two types;
// allocation_info is ignored. Each error names the resource.
func FromWire(ws []mesos.Resource) (Resources, error) {
	var out Resources
	types := map[string]mesos.ValueType{}
	for i, w := range ws {
		if w.Name == "" {
			return Resources{}, fmt.Errorf("resources[%d]: name is required", i)
		}
		if t, ok := types[w.Name]; ok && t != w.Type {
			return Resources{}, fmt.Errorf("resources[%d] %q: type %s, but an earlier entry has type %s", i, w.Name, w.Type, t)
		}
		types[w.Name] = w.Type
		if (w.Role != "" && w.Role != "*") || len(w.Reservations) > 0 {
			return Resources{}, fmt.Errorf("resources[%d] %q: reserved resources are not supported", i, w.Name)
		}
		switch w.Type {
		case mesos.Scalar:
			if w.Scalar == nil {
				return Resources{}, fmt.Errorf("resources[%d] %q: SCALAR without scalar value", i, w.Name)
			}
			v := float64(w.Scalar.Value)
			if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 || v > MaxScalar {
				return Resources{}, fmt.Errorf("resources[%d] %q: invalid amount %v", i, w.Name, v)
			}
			out = out.Add(Scalar(w.Name, v))
		case mesos.Ranges:
			if w.Ranges == nil {
				return Resources{}, fmt.Errorf("resources[%d] %q: RANGES without ranges value", i, w.Name)
			}
			var rs []Range
			for _, x := range w.Ranges.Range {
				if x.Begin > x.End {
					return Resources{}, fmt.Errorf("resources[%d] %q: range %d-%d has begin after end", i, w.Name, x.Begin, x.End)
				}
				rs = append(rs, Range{uint64(x.Begin), uint64(x.End)})
			}
			out = out.Add(RangesOf(w.Name, rs...))
		case mesos.Set:
			if w.Set == nil {
				return Resources{}, fmt.Errorf("resources[%d] %q: SET without set value", i, w.Name)
			}
			out = out.Add(SetOf(w.Name, w.Set.Item...))
		default:
			return Resources{}, fmt.Errorf("resources[%d] %q: unknown type %q", i, w.Name, w.Type)
		}
	}
	return out, nil
}

// Wire converts r to Mesos Resource messages with role "*" and, when role
// is non-empty, allocation_info naming it. Order: scalars, ranges, sets, each
// by name. The messages share nothing with r.
func (r Resources) Wire(role string) []mesos.Resource {
	var alloc *mesos.AllocationInfo
	if role != "" {
		alloc = &mesos.AllocationInfo{Role: role}
	}
	// Called for every offer of every allocation cycle: the values are
	// allocated together and the names sorted in a buffer on the stack.
	out := make([]mesos.Resource, 0, len(r.scalars)+len(r.ranges)+len(r.sets))
	var buf [8]string
	scalars := make([]mesos.ScalarValue, len(r.scalars))
	for i, n := range sortedKeysIn(buf[:0], r.scalars) {
		scalars[i].Value = mesos.Float(float64(r.scalars[n]) / 1000)
		out = append(out, mesos.Resource{Name: n, Type: mesos.Scalar, Scalar: &scalars[i], Role: "*", AllocationInfo: alloc})
	}
	for _, n := range sortedKeysIn(buf[:0], r.ranges) {
		rs := make([]mesos.Range, len(r.ranges[n]))
		for i, x := range r.ranges[n] {
			rs[i] = mesos.Range{Begin: mesos.Uint(x.Begin), End: mesos.Uint(x.End)}
		}
		out = append(out, mesos.Resource{Name: n, Type: mesos.Ranges, Ranges: &mesos.RangesValue{Range: rs}, Role: "*", AllocationInfo: alloc})
	}
	for _, n := range sortedKeysIn(buf[:0], r.sets) {
		// A copy: the caller may edit the message, r must not change.
		out = append(out, mesos.Resource{Name: n, Type: mesos.Set, Set: &mesos.SetValue{Item: slices.Clone(r.sets[n])}, Role: "*", AllocationInfo: alloc})
	}
	return out
}

// ParseAttributes reads agent attributes in Mesos' text syntax
// ("rack:a;zone:1;ports:[1-2];tags:{x,y}"): a number is SCALAR, [..] RANGES,
// {..} SET, anything else TEXT. Each error names the attribute.
func ParseAttributes(s string) ([]mesos.Attribute, error) {
	var out []mesos.Attribute
	seen := map[string]bool{}
	for _, part := range strings.Split(s, ";") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, val, ok := strings.Cut(part, ":")
		name, val = strings.TrimSpace(name), strings.TrimSpace(val)
		if !ok || name == "" || val == "" {
			return nil, fmt.Errorf("attribute %q: want name:value", part)
		}
		if seen[name] {
			return nil, fmt.Errorf("attribute %q given twice", name)
		}
		seen[name] = true
		a := mesos.Attribute{Name: name}
		if strings.HasPrefix(val, "[") {
			rs, err := parseRanges(val)
			if err != nil {
				return nil, fmt.Errorf("attribute %q: %w", name, err)
			}
			a.Type = mesos.Ranges
			a.Ranges = &mesos.RangesValue{}
			for _, x := range coalesce(rs) {
				a.Ranges.Range = append(a.Ranges.Range, mesos.Range{Begin: mesos.Uint(x.Begin), End: mesos.Uint(x.End)})
			}
		} else if strings.HasPrefix(val, "{") && strings.HasSuffix(val, "}") {
			a.Type = mesos.Set
			a.Set = &mesos.SetValue{}
			for _, it := range strings.Split(val[1:len(val)-1], ",") {
				if it = strings.TrimSpace(it); it != "" {
					a.Set.Item = append(a.Set.Item, it)
				}
			}
		} else if v, err := strconv.ParseFloat(val, 64); err == nil && !math.IsNaN(v) && !math.IsInf(v, 0) {
			a.Type = mesos.Scalar
			a.Scalar = &mesos.ScalarValue{Value: mesos.Float(v)}
		} else {
			a.Type = mesos.Text
			a.Text = &mesos.TextValue{Value: val}
		}
		out = append(out, a)
	}
	return out, nil
}
