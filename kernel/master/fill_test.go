package master

import (
	"encoding/json"
	"reflect"
	"testing"
)

// fillEvery sets every exported field reachable from v to a value that is
// not its zero value: strings "s", numbers 1 (floats 1.5), booleans true,
// raw JSON "r", pointers to filled values, slices of one filled element, maps of one
// key "k" to a filled value, and interfaces to the string "v". A
// hand-written encoder checked against encoding/json on such a value
// cannot drop a field that a later change adds to the types.
func fillEvery(tb testing.TB, v reflect.Value, depth int) {
	tb.Helper()
	if depth > 12 {
		return // recursive types: stop with what is there
	}
	if v.Type() == reflect.TypeFor[json.RawMessage]() {
		v.SetBytes([]byte(`"r"`))
		return
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString("s")
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(1)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(1)
	case reflect.Float32, reflect.Float64:
		v.SetFloat(1.5)
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		fillEvery(tb, p.Elem(), depth+1)
		v.Set(p)
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), 1, 1)
		fillEvery(tb, s.Index(0), depth+1)
		v.Set(s)
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		k := reflect.New(v.Type().Key()).Elem()
		fillEvery(tb, k, depth+1)
		e := reflect.New(v.Type().Elem()).Elem()
		fillEvery(tb, e, depth+1)
		m.SetMapIndex(k, e)
		v.Set(m)
	case reflect.Interface:
		if v.NumMethod() == 0 {
			v.Set(reflect.ValueOf("v"))
		}
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				fillEvery(tb, v.Field(i), depth+1)
			}
		}
	}
}
