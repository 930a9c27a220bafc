//go:build chaos

package chaos

import (
	"corral/internal/edge"
	"encoding/json"
	"net/http"
	"time"
)

// The suite runs its clusters with authentication on: every process
// demands credentials, agents and frameworks present their own, and the
// suite calls as the operator.
var (
	opsCredential = edge.Credential{Principal: "ops", Secret: "chaos-ops-secret"}
	// credentialsFile is what every process of a cluster demands.
	credentialsFile = `{"credentials": [
  {"principal": "ops", "secret": "chaos-ops-secret"},
  {"principal": "agent", "secret": "chaos-agent-secret"},
  {"principal": "services", "secret": "chaos-services-secret"},
  {"principal": "jobs", "secret": "chaos-jobs-secret"}]}`
)

// httpClient is used for every API call of the suite. The timeout matters:
// a component cut off by a partition never answers.
var httpClient = &http.Client{Timeout: 10 * time.Second, Transport: opsCredential.RoundTripper(nil)}

// getJSON is GET url decoded into out whatever the status code, for
// endpoints such as /health that answer 503 with a body that still says
// who leads.
func getJSON(url string, out any) error {
	resp, err := httpClient.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return json.NewDecoder(resp.Body).Decode(out)
}
