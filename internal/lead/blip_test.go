package lead

import (
	"net/http"
	"testing"
	"time"
)

// A ZooKeeper blip shorter than the session timeout, as when the ensemble
// elects a leader of its own, does not end the leader's term: writes go on
// being served in the same epoch, directly and through the standby, and
// no other term begins.
func TestBlipKeepsTheTerm(t *testing.T) {
	const session = 8 * time.Second
	_, _, blip, a, b := proxiedPair(t, "/corral/blip", session)
	overlap := watchOverlap(t, a, b)
	termA := <-a.terms

	cutAt := time.Now()
	blip.cut(true)
	var refused []string
	check := func(in *instance, what string) {
		r := post(t, in, "/write/"+what)
		if r.code != http.StatusCreated || r.header.Get("X-Term-Of") != "a" || r.header.Get("X-Epoch") != "1" {
			refused = append(refused, what+": "+r.header.Get("X-Term-Of")+" "+r.header.Get("X-Epoch")+" "+http.StatusText(r.code)+" "+r.body)
		}
	}
	for time.Since(cutAt) < 1500*time.Millisecond {
		check(a, "at-a-"+time.Now().Format("150405.000"))
		check(b, "via-b-"+time.Now().Format("150405.000"))
		time.Sleep(100 * time.Millisecond)
	}
	blip.cut(false)
	// Past the session timeout from the cut: the term would have ended by
	// now had the reconnection not renewed its lease.
	time.Sleep(time.Until(cutAt.Add(session + time.Second)))
	check(a, "after-at-a")
	check(b, "after-via-b")

	if err := termA.ctx.Err(); err != nil {
		t.Errorf("a's term ended in the blip: %v", err)
	}
	if len(refused) > 0 {
		t.Errorf("%d writes in and after the blip were not served by a's term in epoch 1, first %s", len(refused), refused[0])
	}
	select {
	case tm := <-a.terms:
		t.Errorf("a began another term, in epoch %d", tm.fence.Epoch())
	case tm := <-b.terms:
		t.Errorf("b began a term, in epoch %d", tm.fence.Epoch())
	default:
	}
	if n := overlap(); n > 0 {
		t.Errorf("both instances served a term at once, %d times", n)
	}
}
