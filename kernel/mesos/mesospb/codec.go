package mesospb

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"

	"corral/kernel/mesos"
)

// MediaType is the media type of a protobuf body: one serialized Call as
// a request, RecordIO-framed serialized Events as a SUBSCRIBE stream.
const MediaType = "application/x-protobuf"

// MarshalCall returns the protobuf form of c.
func MarshalCall(c *mesos.Call) ([]byte, error) { return appendMessage(nil, reflect.ValueOf(c).Elem()) }

// UnmarshalCall replaces *c with the Call b holds.
func UnmarshalCall(b []byte, c *mesos.Call) error {
	*c = mesos.Call{}
	return consumeMessage(b, reflect.ValueOf(c).Elem())
}

// MarshalEvent returns the protobuf form of ev.
func MarshalEvent(ev *mesos.Event) ([]byte, error) {
	return appendMessage(nil, reflect.ValueOf(ev).Elem())
}

// UnmarshalEvent replaces *ev with the Event b holds.
func UnmarshalEvent(b []byte, ev *mesos.Event) error {
	*ev = mesos.Event{}
	return consumeMessage(b, reflect.ValueOf(ev).Elem())
}

// MarshalExecutorCall returns the protobuf form of an executor Call.
func MarshalExecutorCall(c *mesos.ExecutorCall) ([]byte, error) {
	return appendMessage(nil, reflect.ValueOf(c).Elem())
}

// UnmarshalExecutorCall replaces *c with the executor Call b holds.
func UnmarshalExecutorCall(b []byte, c *mesos.ExecutorCall) error {
	*c = mesos.ExecutorCall{}
	return consumeMessage(b, reflect.ValueOf(c).Elem())
}

// MarshalExecutorEvent returns the protobuf form of an executor Event.
func MarshalExecutorEvent(ev *mesos.ExecutorEvent) ([]byte, error) {
	return appendMessage(nil, reflect.ValueOf(ev).Elem())
}

// UnmarshalExecutorEvent replaces *ev with the executor Event b holds.
func UnmarshalExecutorEvent(b []byte, ev *mesos.ExecutorEvent) error {
	*ev = mesos.ExecutorEvent{}
	return consumeMessage(b, reflect.ValueOf(ev).Elem())
}

// kind is how a field's value is written on the wire.
type kind uint8

const (
	kString  kind = iota // string: length-delimited UTF-8
	kBase64              // string holding a bytes field in base64
	kEnum                // string holding an enum name: varint
	kBytes               // []byte: length-delimited
	kBool                // varint
	kInt                 // int, int32 or int64: varint (sign-extended)
	kUint                // uint32 or uint64: varint
	kDouble              // fixed64
	kMessage             // struct: length-delimited
	kRaw                 // json.RawMessage: see raw.go
	kMap                 // map[string]T of a message T: repeated {key #1, value #2}
)

// field is one tagged struct field.
type field struct {
	num   protowire.Number
	name  string // the proto (JSON) name, for errors
	index int
	kind  kind
	ptr   bool // *T: presence is recorded
	rep   bool // []T (not []byte): a repeated field
	req   bool // written even when zero
	inf   bool // a double that may be infinite (a limit)
	elem  reflect.Type
	enum  *enum
	raw   *rawShape
}

// plan is the tagged fields of one struct type, in field number order.
type plan struct {
	fields []field
	byNum  map[protowire.Number]int
}

var (
	plans          sync.Map // reflect.Type → *plan
	rawMessageType = reflect.TypeFor[json.RawMessage]()
)

// planOf returns t's plan. A malformed tag is a bug in package mesos and
// panics; the tests walk every type reachable from Call and Event.
func planOf(t reflect.Type) *plan {
	if p, ok := plans.Load(t); ok {
		return p.(*plan)
	}
	p := &plan{byNum: map[protowire.Number]int{}}
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		tag, ok := sf.Tag.Lookup("pb")
		if !ok {
			continue
		}
		f, err := parseField(sf, tag)
		if err != nil {
			panic(fmt.Sprintf("mesospb: %s.%s: %v", t, sf.Name, err))
		}
		f.index = i
		if _, dup := p.byNum[f.num]; dup {
			panic(fmt.Sprintf("mesospb: %s: field number %d used twice", t, f.num))
		}
		p.byNum[f.num] = 0
		p.fields = append(p.fields, f)
	}
	// Fields are written in the order of their numbers, as protobuf's
	// own serializers (Mesos' among them) write them, whatever the order
	// of their declaration (which follows the JSON form's).
	slices.SortFunc(p.fields, func(a, b field) int { return int(a.num) - int(b.num) })
	for i, f := range p.fields {
		p.byNum[f.num] = i
	}
	v, _ := plans.LoadOrStore(t, p)
	return v.(*plan)
}

func parseField(sf reflect.StructField, tag string) (field, error) {
	opts := strings.Split(tag, ",")
	n, err := strconv.Atoi(opts[0])
	if err != nil || n < 1 || protowire.Number(n) > protowire.MaxValidNumber {
		return field{}, fmt.Errorf("bad field number %q", opts[0])
	}
	f := field{num: protowire.Number(n), name: strings.Split(sf.Tag.Get("json"), ",")[0]}
	b64 := false
	for _, o := range opts[1:] {
		key, val, _ := strings.Cut(o, "=")
		switch key {
		case "req":
			f.req = true
		case "b64":
			b64 = true
		case "inf":
			f.inf = true
		case "enum":
			if f.enum = enums[val]; f.enum == nil {
				return field{}, fmt.Errorf("unknown enum %q", val)
			}
		case "raw":
			if f.raw = rawShapes[val]; f.raw == nil {
				return field{}, fmt.Errorf("unknown raw shape %q", val)
			}
		default:
			return field{}, fmt.Errorf("unknown option %q", o)
		}
	}
	t := sf.Type
	if t == rawMessageType {
		if f.raw == nil {
			return field{}, errors.New("a json.RawMessage needs the raw option")
		}
		f.kind, f.elem = kRaw, t
		return f, nil
	}
	if t.Kind() == reflect.Map {
		if t.Key().Kind() != reflect.String || t.Elem().Kind() != reflect.Struct {
			return field{}, errors.New("only map[string]<message> has a protobuf form here")
		}
		f.kind, f.elem = kMap, t.Elem()
		return f, nil
	}
	if t.Kind() == reflect.Slice && t.Elem().Kind() != reflect.Uint8 {
		f.rep, t = true, t.Elem()
	}
	if t.Kind() == reflect.Pointer {
		f.ptr, t = true, t.Elem()
	}
	f.elem = t
	f.kind, err = kindOf(t, f.enum != nil, b64)
	return f, err
}

func kindOf(t reflect.Type, isEnum, b64 bool) (kind, error) {
	switch t.Kind() {
	case reflect.String:
		switch {
		case isEnum:
			return kEnum, nil
		case b64:
			return kBase64, nil
		}
		return kString, nil
	case reflect.Slice:
		return kBytes, nil
	case reflect.Bool:
		return kBool, nil
	case reflect.Int, reflect.Int32, reflect.Int64:
		return kInt, nil
	case reflect.Uint32, reflect.Uint64:
		return kUint, nil
	case reflect.Float64:
		return kDouble, nil
	case reflect.Struct:
		return kMessage, nil
	}
	return 0, fmt.Errorf("type %s has no protobuf form", t)
}

// appendMessage appends the fields of the struct v.
func appendMessage(b []byte, v reflect.Value) ([]byte, error) {
	p := planOf(v.Type())
	var err error
	for i := range p.fields {
		f := &p.fields[i]
		fv := v.Field(f.index)
		switch {
		case f.kind == kRaw:
			b, err = appendRaw(b, f, fv.Bytes())
		case f.kind == kMap:
			b, err = appendMap(b, f, fv)
		case f.rep:
			for j := 0; j < fv.Len() && err == nil; j++ {
				b, err = appendValue(b, f, fv.Index(j))
			}
		case f.ptr:
			if !fv.IsNil() {
				b, err = appendValue(b, f, fv.Elem())
			}
		case f.req || f.kind == kMessage || !fv.IsZero():
			b, err = appendValue(b, f, fv)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f.name, err)
		}
	}
	return b, nil
}

// appendValue appends one value of field f.
func appendValue(b []byte, f *field, v reflect.Value) ([]byte, error) {
	switch f.kind {
	case kString:
		b = protowire.AppendTag(b, f.num, protowire.BytesType)
		b = protowire.AppendString(b, v.String())
	case kBase64:
		// The value came in as base64 (JSON) or was made so (protobuf);
		// one that is not is sent as it stands rather than dropped.
		raw, err := base64.StdEncoding.DecodeString(v.String())
		if err != nil {
			raw = []byte(v.String())
		}
		b = protowire.AppendTag(b, f.num, protowire.BytesType)
		b = protowire.AppendBytes(b, raw)
	case kEnum:
		name := v.String()
		if name == "" {
			return b, nil
		}
		n, ok := f.enum.num(name)
		if !ok {
			return nil, fmt.Errorf("%q is not a value of the enum", name)
		}
		b = protowire.AppendTag(b, f.num, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(int64(n)))
	case kBytes:
		b = protowire.AppendTag(b, f.num, protowire.BytesType)
		b = protowire.AppendBytes(b, v.Bytes())
	case kBool:
		b = protowire.AppendTag(b, f.num, protowire.VarintType)
		b = protowire.AppendVarint(b, protowire.EncodeBool(v.Bool()))
	case kInt:
		b = protowire.AppendTag(b, f.num, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(v.Int()))
	case kUint:
		b = protowire.AppendTag(b, f.num, protowire.VarintType)
		b = protowire.AppendVarint(b, v.Uint())
	case kDouble:
		b = protowire.AppendTag(b, f.num, protowire.Fixed64Type)
		b = protowire.AppendFixed64(b, math.Float64bits(v.Float()))
	case kMessage:
		sub, err := appendMessage(nil, v)
		if err != nil {
			return nil, err
		}
		b = protowire.AppendTag(b, f.num, protowire.BytesType)
		b = protowire.AppendBytes(b, sub)
	}
	return b, nil
}

// appendMap appends a map field: one {key #1, value #2} entry per key,
// in key order so that the bytes are deterministic.
func appendMap(b []byte, f *field, m reflect.Value) ([]byte, error) {
	keys := m.MapKeys()
	slices.SortFunc(keys, func(x, y reflect.Value) int { return strings.Compare(x.String(), y.String()) })
	for _, k := range keys {
		val, err := appendMessage(nil, m.MapIndex(k))
		if err != nil {
			return nil, fmt.Errorf("%q: %w", k.String(), err)
		}
		entry := protowire.AppendString(protowire.AppendTag(nil, 1, protowire.BytesType), k.String())
		entry = protowire.AppendBytes(protowire.AppendTag(entry, 2, protowire.BytesType), val)
		b = protowire.AppendBytes(protowire.AppendTag(b, f.num, protowire.BytesType), entry)
	}
	return b, nil
}

// consumeMapEntry decodes one {key #1, value #2} entry into the map fv.
func consumeMapEntry(b []byte, f *field, fv reflect.Value) error {
	var key string
	val := reflect.New(f.elem).Elem()
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		if (num == 1 || num == 2) && typ != protowire.BytesType {
			return wireError(typ, protowire.BytesType, 0)
		}
		switch num {
		case 1, 2:
			raw, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return protowire.ParseError(n)
			}
			b = b[n:]
			if num == 2 {
				if err := consumeMessage(raw, val); err != nil {
					return fmt.Errorf("%q: %w", key, err)
				}
				continue
			}
			if !utf8.Valid(raw) {
				return errors.New("map key is not valid UTF-8")
			}
			key = string(raw)
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return protowire.ParseError(n)
			}
			b = b[n:]
		}
	}
	if fv.IsNil() {
		fv.Set(reflect.MakeMap(fv.Type()))
	}
	fv.SetMapIndex(reflect.ValueOf(key).Convert(fv.Type().Key()), val)
	return nil
}

// consumeMessage decodes the fields in b into the struct v, skipping the
// fields its type does not have.
func consumeMessage(b []byte, v reflect.Value) error {
	p := planOf(v.Type())
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		i, ok := p.byNum[num]
		if !ok {
			n = protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return fmt.Errorf("field #%d: %w", num, protowire.ParseError(n))
			}
			b = b[n:]
			continue
		}
		f := &p.fields[i]
		n, err := consumeField(b, f, typ, v.Field(f.index))
		if err != nil {
			return fmt.Errorf("%s: %w", f.name, err)
		}
		b = b[n:]
	}
	return nil
}

// consumeField decodes one occurrence of f (of wire type typ) from the
// start of b into fv and returns how many bytes it took.
func consumeField(b []byte, f *field, typ protowire.Type, fv reflect.Value) (int, error) {
	if f.kind == kRaw || f.kind == kMap {
		sub, n := protowire.ConsumeBytes(b)
		if typ != protowire.BytesType || n < 0 {
			return 0, wireError(typ, protowire.BytesType, n)
		}
		if f.kind == kMap {
			return n, consumeMapEntry(sub, f, fv)
		}
		return n, consumeRaw(f, sub, fv)
	}
	want := wireType(f.kind)
	if f.rep && typ == protowire.BytesType && want != protowire.BytesType {
		// A packed repeated scalar: proto parsers take both forms.
		packed, n := protowire.ConsumeBytes(b)
		if n < 0 {
			return 0, protowire.ParseError(n)
		}
		for len(packed) > 0 {
			m, err := consumeValue(packed, f, want, target(f, fv))
			if err != nil {
				return 0, err
			}
			packed = packed[m:]
		}
		return n, nil
	}
	if typ != want {
		return 0, wireError(typ, want, 0)
	}
	return consumeValue(b, f, typ, target(f, fv))
}

// target is where the next value of f goes: a new element of a repeated
// field, the (possibly new) pointee of a pointer, or the field itself.
func target(f *field, fv reflect.Value) reflect.Value {
	switch {
	case f.rep:
		fv.Set(reflect.Append(fv, reflect.New(f.elem).Elem()))
		t := fv.Index(fv.Len() - 1)
		if f.ptr {
			t.Set(reflect.New(f.elem.Elem()))
			return t.Elem()
		}
		return t
	case f.ptr:
		if fv.IsNil() {
			fv.Set(reflect.New(f.elem))
		}
		return fv.Elem()
	}
	return fv
}

func wireType(k kind) protowire.Type {
	switch k {
	case kEnum, kBool, kInt, kUint:
		return protowire.VarintType
	case kDouble:
		return protowire.Fixed64Type
	}
	return protowire.BytesType
}

func wireError(got, want protowire.Type, n int) error {
	if n < 0 {
		return protowire.ParseError(n)
	}
	return fmt.Errorf("wire type %d where %d belongs", got, want)
}

// consumeValue decodes one value of wire type typ into v.
func consumeValue(b []byte, f *field, typ protowire.Type, v reflect.Value) (int, error) {
	switch typ {
	case protowire.VarintType:
		x, n := protowire.ConsumeVarint(b)
		if n < 0 {
			return 0, protowire.ParseError(n)
		}
		switch f.kind {
		case kEnum:
			v.SetString(f.enum.name(int32(x)))
		case kBool:
			v.SetBool(x != 0)
		case kInt:
			i := int64(x)
			if v.OverflowInt(i) {
				return 0, fmt.Errorf("%d does not fit", i)
			}
			v.SetInt(i)
		case kUint:
			if v.OverflowUint(x) {
				return 0, fmt.Errorf("%d does not fit", x)
			}
			v.SetUint(x)
		}
		return n, nil
	case protowire.Fixed64Type:
		x, n := protowire.ConsumeFixed64(b)
		if n < 0 {
			return 0, protowire.ParseError(n)
		}
		d := math.Float64frombits(x)
		if math.IsNaN(d) || (math.IsInf(d, 0) && !f.inf) {
			// As the JSON form: NaN and the infinities are refused, but
			// for a limit, where +Inf ("Infinity") means none.
			return 0, fmt.Errorf("invalid number %v", d)
		}
		v.SetFloat(d)
		return n, nil
	}
	raw, n := protowire.ConsumeBytes(b)
	if n < 0 {
		return 0, protowire.ParseError(n)
	}
	switch f.kind {
	case kString:
		if !utf8.Valid(raw) {
			return 0, errors.New("string is not valid UTF-8")
		}
		v.SetString(string(raw))
	case kBase64:
		v.SetString(base64.StdEncoding.EncodeToString(raw))
	case kBytes:
		v.SetBytes(append([]byte{}, raw...))
	case kMessage:
		if err := consumeMessage(raw, v); err != nil {
			return 0, err
		}
	}
	return n, nil
}
