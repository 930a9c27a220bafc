package mesospb

import (
	"mime"
	"strconv"
	"strings"
)

// StreamType picks the media type of a SUBSCRIBE stream from the
// request's Accept header, as Mesos does: JSON if it is acceptable (an
// absent Accept allows anything), else protobuf, else "" (406).
func StreamType(accept string) string {
	for _, mt := range []string{"application/json", MediaType} {
		if acceptable(accept, mt) {
			return mt
		}
	}
	return ""
}

// acceptable reports whether an Accept header allows the media type mt:
// the most specific of its ranges that matches mt (mt itself, then
// type/*, then */*) must not have q=0.
func acceptable(accept, mt string) bool {
	if strings.TrimSpace(accept) == "" {
		return true
	}
	typ, _, _ := strings.Cut(mt, "/")
	best, allowed := 0, false
	for _, part := range strings.Split(accept, ",") {
		rng, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		specificity := 0
		switch rng {
		case mt:
			specificity = 3
		case typ + "/*":
			specificity = 2
		case "*/*":
			specificity = 1
		}
		if specificity > best {
			best, allowed = specificity, params["q"] == "" || qValue(params["q"]) > 0
		}
	}
	return allowed
}

// qValue parses a quality value; a malformed one counts as 1, as a
// missing one does.
func qValue(s string) float64 {
	q, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 1
	}
	return q
}
