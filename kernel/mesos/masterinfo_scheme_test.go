package mesos

import "testing"

func TestBaseURLScheme(t *testing.T) {
	mi := MasterInfo{ID: "m", Hostname: "h", Port: 5050, Address: &Address{Hostname: "master-1", Port: 5050}}
	for scheme, want := range map[string]string{"http": "http://master-1:5050", "https": "https://master-1:5050"} {
		if got, err := mi.BaseURLScheme(scheme); err != nil || got != want {
			t.Errorf("BaseURLScheme(%q) = %q, %v; want %q", scheme, got, err, want)
		}
	}
	if got, _ := mi.BaseURL(); got != "http://master-1:5050" {
		t.Errorf("BaseURL() = %q; want http", got)
	}
}
