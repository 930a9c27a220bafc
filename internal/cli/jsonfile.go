package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// jsonError words an error of decoding body, a file people wrote, so
// they can find it: the line and column where it is, and what is wrong
// there. base is where in body the decoded part began (0: all of it).
// Other errors come back as they are.
func jsonError(body []byte, base int64, err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		line, col := position(body, base+syn.Offset)
		msg := strings.TrimPrefix(syn.Error(), "invalid character ")
		if msg != syn.Error() {
			msg = "unexpected " + msg
		}
		return fmt.Errorf("line %d, column %d: %s", line, col, msg)
	case errors.As(err, &typ):
		line, col := position(body, base+typ.Offset)
		what := "the file"
		if typ.Field != "" {
			what = `"` + typ.Field + `"`
		}
		return fmt.Errorf("line %d, column %d: %s is %s, want %s", line, col, what, typ.Value, typ.Type)
	}
	return err
}

// position is the line and column (from 1, in bytes) of offset in body;
// the decoder's offset counts the bytes read, so it points just past the
// offending one.
func position(body []byte, offset int64) (line, col int) {
	offset = min(max(offset, 1), int64(len(body)))
	before := body[:offset-1]
	line = bytes.Count(before, []byte("\n")) + 1
	col = len(before) - bytes.LastIndexByte(before, '\n')
	return line, col
}

// appKeys and jobKeys are fields only an app definition (Marathon) or
// only a job (corral, Chronos, Metronome) has: a file with some of one
// and none of the other is of that kind.
var (
	appKeys = []string{"id", "cmd", "instances", "container", "healthChecks", "upgradeStrategy", "portDefinitions"}
	jobKeys = []string{"name", "schedule", "parents", "command", "run", "epsilon", "concurrencyPolicy"}
)

// kindOf says what a JSON object is by its fields: "app", "job", or ""
// when it cannot tell. It is pure.
func kindOf(obj map[string]json.RawMessage) string {
	has := func(keys []string) bool {
		return slices.ContainsFunc(keys, func(k string) bool { _, ok := obj[k]; return ok })
	}
	switch app, job := has(appKeys), has(jobKeys); {
	case app && !job:
		return "app"
	case job && !app:
		return "job"
	}
	return ""
}
