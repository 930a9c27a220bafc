package agent

import "testing"

func TestTotalResources(t *testing.T) {
	m := machine{cpus: 4, memTotalMB: 8192, diskFreeMB: 20480}
	cases := []struct {
		name       string
		configured string
		share      float64
		want       string
	}{
		{"whole machine", "", 0, "cpus:4;disk:15360;mem:7168;ports:[31000-32000]"},
		{"half of it", "ports:[31000-31499]", 0.5, "cpus:2;disk:7680;mem:3584;ports:[31000-31499]"},
		{"configured names win over the share", "cpus:3;mem:100", 0.5, "cpus:3;disk:7680;mem:100;ports:[31000-32000]"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, err := totalResources(c.configured, c.share, m)
			if err != nil {
				t.Fatal(err)
			}
			if got := r.String(); got != c.want {
				t.Errorf("totalResources(%q, %v) = %s; want %s", c.configured, c.share, got, c.want)
			}
		})
	}
}
