package plan

import (
	"fmt"
	"testing"

	"corral/kernel/mesos"
	"corral/kernel/resource"
)

// BenchmarkPlace500 places 500 instances with a port each on one large
// offer, the shape of the "500 tasks on one agent" goal.
func BenchmarkPlace500(b *testing.B) {
	r, err := resource.Parse("cpus:1000;mem:1000000;ports:[31000-32000]")
	if err != nil {
		b.Fatal(err)
	}
	offers := []Offer{{ID: "o", AgentID: "a", Hostname: "h", Resources: r}}
	s := Spec{AppID: "/app", ConfigVersion: "v1", CPUs: 0.1, Mem: 32, Ports: []uint64{0},
		Constraints: []Constraint{{Field: "hostname", Operator: OpMaxPer, Value: "1000"}}}
	for b.Loop() {
		if placed, _ := Place(s, 500, offers, nil); len(placed) != 500 {
			b.Fatalf("placed %d", len(placed))
		}
	}
}

// BenchmarkDecide1000 decides for an app of 1,000 instances mid-upgrade.
func BenchmarkDecide1000(b *testing.B) {
	var in []Instance
	for i := range 1000 {
		ver := "v1"
		if i%2 == 0 {
			ver = "v2"
		}
		in = append(in, Instance{TaskID: fmt.Sprintf("t%04d", i), AppID: "/app", ConfigVersion: ver,
			State: mesos.TaskRunning, StagedAt: t0})
	}
	s := spec(1000, "v2", 1, 0.2)
	for b.Loop() {
		Decide(s, in, t0)
	}
}
