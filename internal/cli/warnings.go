package cli

import (
	"encoding/json"
	"fmt"
	"io"
)

// printWarnings writes on w, one "warning: …" line each, the warnings that
// an API answer carries. The answers to creating and updating apps and
// jobs list in "warnings" what the server ignored in the request, such as
// a misspelt field: `warning: unknown field "/intances" ignored`. subject,
// when not empty, names what the answer is about ("job nightly") for a
// verb that saves several things. An answer without warnings, or that is
// not a JSON object, prints nothing.
func printWarnings(w io.Writer, subject string, body []byte) {
	var answer struct {
		Warnings []string `json:"warnings"`
	}
	if json.Unmarshal(body, &answer) != nil {
		return
	}
	for _, text := range answer.Warnings {
		if subject != "" {
			text = subject + ": " + text
		}
		fmt.Fprintf(w, "warning: %s\n", text)
	}
}
