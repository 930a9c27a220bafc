package master

import (
	"net/http"
	"testing"

	"corral/internal/edge"
	"corral/internal/edge/edgetest"
)

// TestEveryRouteIsGuarded drives every route of the master's route table
// as an anonymous caller, with a wrong secret, as a principal allowed
// nothing and as one allowed everything (see edgetest). A route added to
// the master without an entry here fails the test.
func TestEveryRouteIsGuarded(t *testing.T) {
	cs, err := edge.ParseCredentials([]byte(`{"credentials": [{"principal": "ops", "secret": "0ps"}, {"principal": "idle", "secret": "1dle"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	tm := startMaster(t, func(c *Config) { c.Trust = edge.Trust{Credentials: cs, ACLs: edgetest.ACLs(t, "ops")} })
	scheduler := `{"type":"SUBSCRIBE","subscribe":{"framework_info":{"user":"nobody","name":"matrix"}}}`
	table := map[string]edgetest.Case{
		"GET /health":            {Access: edgetest.Open},
		"GET /master/health":     {Access: edgetest.Authenticated},
		"GET /redirect":          {Access: edgetest.Authenticated},
		"GET /master/redirect":   {Access: edgetest.Authenticated},
		"GET /state":             {Access: edgetest.Filtered},
		"GET /state.json":        {Access: edgetest.Filtered},
		"GET /master/state":      {Access: edgetest.Filtered},
		"GET /master/state.json": {Access: edgetest.Filtered},
		"GET /console/state":     {Access: edgetest.Filtered},
		"GET /weights":           {Access: edgetest.Filtered},
		"PUT /weights":           {Access: edgetest.Guarded, Body: `[{"role":"web","weight":2}]`},
		"POST /teardown":         {Access: edgetest.Guarded, Path: "/teardown?frameworkId=none"},
		"POST /master/teardown":  {Access: edgetest.Guarded, Path: "/master/teardown?frameworkId=none"},
		"GET /metrics":           {Access: edgetest.Guarded},
		// The console's own files and its change stream (counts only).
		"GET /":               {Access: edgetest.Authenticated},
		"GET /index.html":     {Access: edgetest.Authenticated},
		"GET /assets/*":       {Access: edgetest.Authenticated, Path: "/assets/app.js"},
		"GET /console/events": {Access: edgetest.Authenticated, Path: "/console/nonesuch"},
	}
	table["POST /api/v1/scheduler"] = edgetest.Case{Access: edgetest.Guarded, Body: scheduler}
	table["POST /internal/v1/agent"] = edgetest.Case{Access: edgetest.Guarded}
	// The operator API: each call its own ACL (see TestOperatorAPI).
	table["POST /api/v1"] = edgetest.Case{Access: edgetest.Guarded, Body: `{"type":"DRAIN_AGENT","drain_agent":{"agent_id":{"value":"none"}}}`}
	for _, prefix := range []string{"", "/master"} {
		table["GET "+prefix+"/maintenance/schedule"] = edgetest.Case{Access: edgetest.Guarded}
		table["POST "+prefix+"/maintenance/schedule"] = edgetest.Case{Access: edgetest.Guarded, Body: `{"windows":[]}`}
		table["GET "+prefix+"/maintenance/status"] = edgetest.Case{Access: edgetest.Guarded}
		table["POST "+prefix+"/machine/down"] = edgetest.Case{Access: edgetest.Guarded, Body: `[{"hostname":"none"}]`}
		table["POST "+prefix+"/machine/up"] = edgetest.Case{Access: edgetest.Guarded, Body: `[{"hostname":"none"}]`}
	}
	table["GET /secrets"] = edgetest.Case{Access: edgetest.Filtered}
	for _, m := range []string{http.MethodGet, http.MethodPut, http.MethodDelete} {
		table[m+" /secrets/*"] = edgetest.Case{Access: edgetest.Guarded, Body: `{"value": "v"}`}
	}
	for _, route := range []string{"POST /secrets", "PUT /secrets", "PATCH /secrets", "DELETE /secrets", "POST /secrets/*", "PATCH /secrets/*"} {
		table[route] = edgetest.Case{Access: edgetest.Authenticated} // 405
	}
	// Routes registered for every method.
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		// SUBSCRIBE asks register_frameworks; other calls need the
		// framework's own stream.
		if m != http.MethodPost {
			// 405 to anyone authenticated.
			table[m+" /api/v1/scheduler"] = edgetest.Case{Access: edgetest.Authenticated}
			table[m+" /internal/v1/agent"] = edgetest.Case{Access: edgetest.Authenticated}
		}
		table[m+" /console/*"] = edgetest.Case{Access: edgetest.Authenticated}
		// The framework or agent behind the proxy decides.
		table[m+" /framework/*"] = edgetest.Case{Access: edgetest.Proxied}
		table[m+" /agent/*"] = edgetest.Case{Access: edgetest.Proxied}
	}
	edgetest.Check(t, tm.url, http.DefaultClient, edgetest.Routes(t, tm.m.routes()), table,
		edgetest.Who{Allowed: [2]string{"ops", "0ps"}, Denied: [2]string{"idle", "1dle"}})
}
