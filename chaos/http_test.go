//go:build chaos

package chaos

import (
	"encoding/json"
	"net/http"
	"time"
)

// httpClient is used for every API call of the suite. The timeout matters:
// a component cut off by a partition never answers.
var httpClient = &http.Client{Timeout: 10 * time.Second}

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
