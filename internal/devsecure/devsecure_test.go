package devsecure

import (
	"corral/internal/acl"
	"os"
	"path/filepath"
	"testing"

	"corral/internal/edge"
)

func TestEnsureMakesUsableFilesOnce(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "secure")
	f, err := Ensure(dir)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(f.Credentials)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := edge.ParseCredentials(b)
	if err != nil {
		t.Fatalf("credentials.json does not parse: %v", err)
	}
	for _, p := range Principals {
		cb, err := os.ReadFile(f.Credential[p])
		if err != nil {
			t.Fatal(err)
		}
		c, err := edge.ParseCredential(cb)
		if err != nil || c.Principal != p || !cs.Check(p, c.Secret) {
			t.Errorf("%s.json = %v, %v; want a credential credentials.json accepts", p, c, err)
		}
	}
	for _, path := range []string{f.Credentials, f.ACLs, f.SecretsKey, f.Credential["ops"]} {
		st, err := os.Stat(path)
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v, mode %v; want 0600", path, err, st.Mode().Perm())
		}
	}
	if st, _ := os.Stat(dir); st.Mode().Perm() != 0o700 {
		t.Errorf("dir mode %v; want 0700", st.Mode().Perm())
	}
	ab, err := os.ReadFile(f.ACLs)
	if err != nil {
		t.Fatal(err)
	}
	a, err := acl.Parse(ab)
	if err != nil {
		t.Fatalf("acls.json does not parse: %v", err)
	}
	for _, c := range []struct {
		act            acl.Action
		principal, obj string
		want           bool
	}{
		{acl.RunTasks, "services", "root", false},
		{acl.RunTasks, "services", "nobody", true},
		{acl.RegisterAgents, "agent", "", true},
		{acl.RegisterAgents, "services", "", false},
		{acl.ManageApps, "ops", "/web", true},
		{acl.ManageApps, "agent", "/web", false},
		{acl.UseSecrets, "services", "db/pw", true},
	} {
		if got := a.Allowed(c.act, c.principal, c.obj); got != c.want {
			t.Errorf("acls.json: Allowed(%s, %q, %q) = %v; want %v", c.act, c.principal, c.obj, got, c.want)
		}
	}
	again, err := Ensure(dir)
	if err != nil {
		t.Fatal(err)
	}
	b2, _ := os.ReadFile(again.Credentials)
	if string(b2) != string(b) {
		t.Error("a second Ensure made new credentials; want the first kept")
	}
}
