//go:build chaos

package chaos

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// httpClient is used for every API call of the suite. The timeout matters:
// a component cut off by a partition never answers.
var httpClient = &http.Client{Timeout: 10 * time.Second}

// apiError is a call that did not answer 2xx.
type apiError struct {
	Method, URL string
	Code        int // 0 when no answer came
	Body        string
	Err         error
}

func (e *apiError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s %s: %v", e.Method, e.URL, e.Err)
	}
	return fmt.Sprintf("%s %s = %d %s", e.Method, e.URL, e.Code, e.Body)
}

// call sends a JSON body (nil for none) and decodes a 2xx answer into out
// (nil to ignore it). Anything else is an *apiError.
func call(method, url string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := httpClient.Do(req)
	if err != nil {
		return &apiError{Method: method, URL: url, Err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return &apiError{Method: method, URL: url, Code: resp.StatusCode, Err: err}
	}
	if resp.StatusCode/100 != 2 {
		if len(b) > 300 {
			b = append(b[:300], "…"...)
		}
		return &apiError{Method: method, URL: url, Code: resp.StatusCode, Body: string(b)}
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("%s %s: decoding %q: %w", method, url, b, err)
		}
	}
	return nil
}

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
