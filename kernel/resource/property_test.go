package resource_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"corral/kernel/resource"
)

// gen draws a random Resources from a small universe, so that operands
// overlap often: scalars in milli-units, ports within [lo, hi], zones from a
// few letters.
func gen(rng *rand.Rand, lo, hi uint64, zones string) resource.Resources {
	var r resource.Resources
	for _, n := range []string{resource.CPUs, resource.Mem, resource.GPUs} {
		if rng.IntN(3) > 0 {
			r = r.Add(resource.Scalar(n, float64(rng.IntN(5000))/1000))
		}
	}
	for range rng.IntN(4) {
		b := lo + rng.Uint64N(hi-lo+1)
		e := min(hi, b+rng.Uint64N(8))
		r = r.Add(resource.RangesOf(resource.Ports, resource.Range{Begin: b, End: e}))
	}
	for i := range len(zones) {
		if rng.IntN(2) == 0 {
			r = r.Add(resource.SetOf("zones", zones[i:i+1]))
		}
	}
	return r
}

// TestProperties checks the algebra on seeded random values.
func TestProperties(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 5000 {
		a, b := gen(rng, 0, 40, "abcd"), gen(rng, 0, 40, "abcd")
		// d shares no ranges or set items with a (scalars always add up),
		// so (a+d)-d is a.
		d := gen(rng, 100, 140, "wxyz")
		name := fmt.Sprintf("#%d a=%v b=%v", i, a, b)
		sum, diff := a.Add(b), a.Sub(b)
		checks := []struct {
			what string
			ok   bool
		}{
			{"a+b contains a and b", sum.Contains(a) && sum.Contains(b)},
			{"a+b == b+a", sum.Equal(b.Add(a))},
			{"(a+b)-b has a's scalars", sum.Sub(b).Scalars().Equal(a.Scalars())},
			{"(a+b)-b has the ranges and sets of a-b", nonScalar(sum.Sub(b)).Equal(nonScalar(diff))},
			{"(a+d)-d == a for disjoint d", a.Add(d).Sub(d).Equal(a)},
			{"a contains a-b", a.Contains(diff)},
			{"(a-b)+(a∩b) == a", diff.Add(a.Sub(diff)).Equal(a)},
			{"a-b holds nothing of b's scalars beyond a's", noNegative(a, b, diff)},
			{"a contains b iff nothing is missing", a.Contains(b) == a.Missing(b).IsEmpty()},
			{"a+missing(b) contains b", a.Add(a.Missing(b)).Contains(b)},
			{"a-a is empty", a.Sub(a).IsEmpty()},
			{"Parse(String(a)) == a", roundTrip(a)},
			{"FromWire(Wire(a)) == a", wireTrip(a)},
		}
		for _, c := range checks {
			if !c.ok {
				t.Fatalf("%s: %s does not hold (a+b=%v, a-b=%v, d=%v)", name, c.what, sum, diff, d)
			}
		}
	}
}

func nonScalar(r resource.Resources) resource.Resources { return r.Sub(r.Scalars()) }

func noNegative(a, b, diff resource.Resources) bool {
	for _, n := range diff.ScalarNames() {
		want := a.Scalar(n) - b.Scalar(n)
		if got := diff.Scalar(n); got <= 0 || got > a.Scalar(n) || (b.Scalar(n) > 0 && got > want+1e-9) {
			return false
		}
	}
	for _, n := range a.ScalarNames() {
		if a.Scalar(n) > b.Scalar(n)+1e-9 && diff.Scalar(n) == 0 {
			return false
		}
	}
	return true
}

func roundTrip(a resource.Resources) bool {
	back, err := resource.Parse(a.String())
	return err == nil && back.Equal(a)
}

func wireTrip(a resource.Resources) bool {
	back, err := resource.FromWire(a.Wire("r"))
	return err == nil && back.Equal(a)
}
