// Package blank tells whether a JSON value asks for nothing, for the
// decoders of both frameworks: a field corral does not implement is
// accepted while it is blank (what client libraries send by default) and
// refused otherwise. It is pure.
package blank

import (
	"bytes"
	"encoding/json"
)

// JSON reports whether raw asks for nothing: absent, null, false, 0, "",
// [], or an object whose values are all blank. Malformed JSON is not
// blank.
func JSON(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return true
	}
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return false
	}
	return value(v)
}

func value(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case bool:
		return !x
	case float64:
		return x == 0
	case string:
		return x == ""
	case []any:
		return len(x) == 0
	case map[string]any:
		for _, e := range x {
			if !value(e) {
				return false
			}
		}
		return true
	}
	return false
}
