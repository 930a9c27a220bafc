package mesospb

import (
	"errors"
	"fmt"
	"reflect"
)

// Marshal returns the protobuf form of the message m, a pointer to a
// struct whose fields carry pb tags (as the operator API's Call,
// Response and Event types in package master do). It is the generic form
// of MarshalCall and its kin, for messages defined outside package mesos.
func Marshal(m any) ([]byte, error) {
	v, err := messageValue(m)
	if err != nil {
		return nil, err
	}
	return appendMessage(nil, v)
}

// Unmarshal replaces the message *m (a pointer to a struct with pb tags)
// with the one b holds. On error *m may hold part of b.
func Unmarshal(b []byte, m any) error {
	v, err := messageValue(m)
	if err != nil {
		return err
	}
	v.SetZero()
	return consumeMessage(b, v)
}

func messageValue(m any) (reflect.Value, error) {
	v := reflect.ValueOf(m)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		return reflect.Value{}, fmt.Errorf("mesospb: %T is not a pointer to a message struct", m)
	}
	return v.Elem(), nil
}

// Check reports whether every field of every struct type reachable from
// the type of m has a protobuf form: a well-formed pb tag, or a `json:"-"`
// tag that keeps it out of both forms. Tests of packages that define
// messages call it, so that a field added to a message without a number
// is noticed before it goes missing on the wire.
func Check(m any) error {
	var errs []error
	seen := map[reflect.Type]bool{}
	var walk func(reflect.Type)
	walk = func(rt reflect.Type) {
		for rt.Kind() == reflect.Pointer || rt.Kind() == reflect.Slice || rt.Kind() == reflect.Map {
			rt = rt.Elem()
		}
		if rt.Kind() != reflect.Struct || seen[rt] {
			return
		}
		seen[rt] = true
		if err := planErr(rt); err != nil {
			errs = append(errs, err)
			return
		}
		for i := 0; i < rt.NumField(); i++ {
			sf := rt.Field(i)
			if _, ok := sf.Tag.Lookup("pb"); !ok {
				if sf.Tag.Get("json") != "-" {
					errs = append(errs, fmt.Errorf("%s.%s has no pb tag", rt, sf.Name))
				}
				continue
			}
			if sf.Type != rawMessageType {
				walk(sf.Type)
			}
		}
	}
	walk(reflect.TypeOf(m))
	return errors.Join(errs...)
}

// planErr is planOf with its panic (a malformed tag) as an error.
func planErr(rt reflect.Type) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	planOf(rt)
	return nil
}
