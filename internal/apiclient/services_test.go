package apiclient

import (
	"encoding/json"
	"maps"
	"strings"
	"testing"
)

// TestAppWithSecretEnv: an app whose env references a secret reads back:
// plain variables in Env, references in EnvSecrets (a client that
// expected strings only could not show such an app at all).
func TestAppWithSecretEnv(t *testing.T) {
	var a App
	err := json.Unmarshal([]byte(`{"id":"/s","instances":2,"env":{"A":"1","DB":{"secret":"db"}},"secrets":{"db":{"source":"team/db"}}}`), &a)
	if err != nil {
		t.Fatalf("Unmarshal = %v", err)
	}
	if a.ID != "/s" || a.Instances != 2 || !maps.Equal(a.Env, map[string]string{"A": "1"}) || !maps.Equal(a.EnvSecrets, map[string]string{"DB": "db"}) {
		t.Errorf("App = %+v; want id, instances, env A=1 and the secret DB→db", a)
	}
	err = json.Unmarshal([]byte(`{"id":"/s","env":{"A":7}}`), &a)
	if err == nil || !strings.Contains(err.Error(), "env A") {
		t.Errorf("Unmarshal of a number env = %v; want an error naming the variable", err)
	}
}
