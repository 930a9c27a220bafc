package mesos

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
)

// Float is a float64 that also decodes from a JSON string ("1.5"), as the
// Mesos JSON parser accepts. It encodes as a plain JSON number. NaN and the
// infinities are refused: JSON cannot carry them back out.
type Float float64

// UnmarshalJSON accepts a number, a numeric string, or null (left unchanged).
func (f *Float) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if string(b) == "null" {
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		v, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("invalid number %q", s)
		}
		*f = Float(v)
		return nil
	}
	var v float64
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*f = Float(v)
	return nil
}

// Int is an int64 that also decodes from a JSON string ("42"); Mesos writes
// 64-bit integers as numbers but accepts both.
type Int int64

// UnmarshalJSON accepts a number, a numeric string, or null (left unchanged).
func (i *Int) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if string(b) == "null" {
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		b = []byte(s)
	}
	v, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		// Accept integral floats such as 31000.0.
		fv, ferr := strconv.ParseFloat(string(b), 64)
		if ferr != nil || fv != float64(int64(fv)) {
			return fmt.Errorf("invalid integer %q", string(b))
		}
		v = int64(fv)
	}
	*i = Int(v)
	return nil
}

// Uint is a uint64 that also decodes from a JSON string; used for range
// bounds.
type Uint uint64

// UnmarshalJSON accepts a non-negative number, a numeric string, or null.
func (u *Uint) UnmarshalJSON(b []byte) error {
	var i Int
	if err := i.UnmarshalJSON(b); err != nil {
		return err
	}
	if i < 0 {
		return fmt.Errorf("invalid unsigned integer %d", i)
	}
	*u = Uint(i)
	return nil
}
