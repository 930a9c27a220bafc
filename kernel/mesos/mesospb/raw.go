package mesospb

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"

	"corral/kernel/mesos"
)

// Some messages are kept by package mesos as json.RawMessage: corral
// does not act on them, and validation only checks that they are absent
// or blank so that a task asking for them is refused by name. The `raw`
// tag option says how such a field looks in protobuf:
//
//	raw              opaque: any message. Decoding keeps its bytes in a
//	                 JSON object {"protobuf": "<base64>"}, which is not
//	                 blank, so validation refuses it as it refuses any
//	                 non-empty JSON; an empty message becomes {}, blank,
//	                 as {} is in JSON. Encoding writes such an object's
//	                 bytes back and refuses other non-blank JSON.
//	raw=labels       a Labels message, kept as its JSON
//	raw=strings      a repeated string, kept as a JSON array
//	raw=ipaddresses  a repeated NetworkInfo.IPAddress, kept as a JSON array
type rawShape struct {
	shadow reflect.Type // the Go form of the JSON; nil: opaque
	rep    bool         // the shadow is a slice, one element per occurrence
}

var rawShapes = map[string]*rawShape{
	"":            {},
	"labels":      {shadow: reflect.TypeFor[mesos.Labels]()},
	"strings":     {shadow: reflect.TypeFor[[]string](), rep: true},
	"ipaddresses": {shadow: reflect.TypeFor[[]ipAddress](), rep: true},
}

// ipAddress is NetworkInfo.IPAddress.
type ipAddress struct {
	Protocol  string `json:"protocol,omitempty" pb:"1,enum=NetworkProtocol"`
	IPAddress string `json:"ip_address,omitempty" pb:"2"`
}

// opaque is the JSON that holds an opaque message's bytes.
type opaque struct {
	Protobuf []byte `json:"protobuf"`
}

// blank reports whether raw is absent or an empty JSON value, as
// package mesos' validation judges it.
func blank(raw json.RawMessage) bool {
	switch strings.TrimSpace(string(raw)) {
	case "", "null", "{}", "[]", `""`, "false", "0":
		return true
	}
	return false
}

// consumeRaw decodes one occurrence (sub, the message or string bytes)
// of a raw field into fv, merging with what an earlier one left there.
func consumeRaw(f *field, sub []byte, fv reflect.Value) error {
	shape := f.raw
	var out any
	if shape.shadow == nil {
		var o opaque
		if !blank(fv.Bytes()) {
			_ = json.Unmarshal(fv.Bytes(), &o)
		}
		o.Protobuf = append(o.Protobuf, sub...)
		if len(o.Protobuf) == 0 {
			fv.SetBytes(json.RawMessage("{}"))
			return nil
		}
		out = o
	} else {
		sv := reflect.New(shape.shadow)
		if !blank(fv.Bytes()) {
			if err := json.Unmarshal(fv.Bytes(), sv.Interface()); err != nil {
				return err
			}
		}
		v := sv.Elem()
		if shape.rep {
			v.Set(reflect.Append(v, reflect.New(v.Type().Elem()).Elem()))
			v = v.Index(v.Len() - 1)
		}
		if v.Kind() == reflect.String {
			if !utf8.Valid(sub) {
				return errors.New("string is not valid UTF-8")
			}
			v.SetString(string(sub))
		} else if err := consumeMessage(sub, v); err != nil {
			return err
		}
		out = sv.Interface()
	}
	b, err := json.Marshal(out)
	if err != nil {
		return err
	}
	fv.SetBytes(b)
	return nil
}

// appendRaw appends the protobuf form of the raw field f, holding raw.
func appendRaw(b []byte, f *field, raw json.RawMessage) ([]byte, error) {
	shape := f.raw
	if blank(raw) {
		if strings.TrimSpace(string(raw)) == "{}" && !shape.rep {
			// An empty message is present, as {} is.
			b = protowire.AppendTag(b, f.num, protowire.BytesType)
			b = protowire.AppendBytes(b, nil)
		}
		return b, nil
	}
	if shape.shadow == nil {
		var o opaque
		if err := json.Unmarshal(raw, &o); err != nil || o.Protobuf == nil {
			return nil, fmt.Errorf("%s has no protobuf form", raw)
		}
		b = protowire.AppendTag(b, f.num, protowire.BytesType)
		return protowire.AppendBytes(b, o.Protobuf), nil
	}
	sv := reflect.New(shape.shadow)
	if err := json.Unmarshal(raw, sv.Interface()); err != nil {
		return nil, err
	}
	v := sv.Elem()
	values := []reflect.Value{v}
	if shape.rep {
		values = values[:0]
		for i := 0; i < v.Len(); i++ {
			values = append(values, v.Index(i))
		}
	}
	for _, e := range values {
		b = protowire.AppendTag(b, f.num, protowire.BytesType)
		if e.Kind() == reflect.String {
			b = protowire.AppendString(b, e.String())
			continue
		}
		sub, err := appendMessage(nil, e)
		if err != nil {
			return nil, err
		}
		b = protowire.AppendBytes(b, sub)
	}
	return b, nil
}
