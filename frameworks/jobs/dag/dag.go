package dag

import (
	"fmt"
	"slices"
	"strings"
)

// Error says why a graph is not a DAG of known jobs. Check returns it.
type Error struct {
	// Job is the job at fault: the child naming an unknown parent, or the
	// first job of the cycle (the smallest name in it).
	Job string
	// Problem is the explanation: `unknown parent "x"`, or
	// "cycle: a -> b -> c -> a" with edges from parent to child.
	Problem string
	// Cycle is the cycle's path from parent to child, starting and ending
	// with Job; nil when the problem is an unknown parent.
	Cycle []string
}

// Error returns the job and the problem on one line.
func (e *Error) Error() string { return fmt.Sprintf("job %q: %s", e.Job, e.Problem) }

// Check returns nil when every parent named in the graph is a job of the
// graph (a key of parents) and the parent edges have no cycle. Otherwise
// it returns an *Error: unknown parents are reported first, then a cycle
// (a job that is its own parent is the cycle "a -> a"). The report is
// deterministic: jobs are examined in name order.
func Check(parents map[string][]string) error {
	names := sortedKeys(parents)
	for _, job := range names {
		for _, p := range parents[job] {
			if _, ok := parents[p]; !ok {
				return &Error{Job: job, Problem: fmt.Sprintf("unknown parent %q", p)}
			}
		}
	}

	const (
		unvisited = iota
		onPath
		done
	)
	state := make(map[string]int, len(parents))
	var path []string // path[i+1] is a parent of path[i]
	var cycle []string
	var visit func(job string) bool
	visit = func(job string) bool {
		state[job] = onPath
		path = append(path, job)
		for _, p := range parents[job] {
			switch state[p] {
			case onPath:
				cycle = cycleFrom(path, p)
				return true
			case unvisited:
				if visit(p) {
					return true
				}
			}
		}
		path = path[:len(path)-1]
		state[job] = done
		return false
	}
	for _, job := range names {
		if state[job] == unvisited && visit(job) {
			return &Error{Job: cycle[0], Problem: "cycle: " + strings.Join(cycle, " -> "), Cycle: cycle}
		}
	}
	return nil
}

// cycleFrom turns the DFS path, which walks from child to parent and ends
// at a job whose parent p is on the path, into the cycle through p written
// from parent to child, rotated to start at its smallest name and closed
// by repeating it.
func cycleFrom(path []string, p string) []string {
	i := slices.Index(path, p)
	c := slices.Clone(path[i:])
	slices.Reverse(c)
	start := slices.Index(c, slices.Min(c))
	c = append(c[start:], c[:start]...)
	return append(c, c[0])
}

// Children returns the jobs that name job as a parent, sorted by name and
// without duplicates.
func Children(parents map[string][]string, job string) []string {
	var out []string
	for child, ps := range parents {
		if slices.Contains(ps, job) {
			out = append(out, child)
		}
	}
	slices.Sort(out)
	return out
}

// ChangeKind is what Rewire did to a child of the deleted job.
type ChangeKind string

// The kinds of change Rewire makes.
const (
	// InheritedParents: the deleted job was a dependent job; the child
	// replaced it by the deleted job's parents.
	InheritedParents ChangeKind = "INHERITED_PARENTS"
	// TookSchedule: the deleted job was a scheduled job and the child had
	// no other parent; the child became a scheduled job with its schedule.
	TookSchedule ChangeKind = "TOOK_SCHEDULE"
	// LostParent: the child only lost the edge, because it still has
	// other parents (or the deleted job had neither parents nor a
	// schedule to hand over).
	LostParent ChangeKind = "LOST_PARENT"
)

// String returns the kind's wire name.
func (k ChangeKind) String() string { return string(k) }

// Change is what Rewire did to one child of the deleted job.
type Change struct {
	// Job is the child.
	Job string `json:"job"`
	// Kind classifies the change.
	Kind ChangeKind `json:"kind"`
	// Description says what happened in a sentence fit for an API answer.
	Description string `json:"description"`
}

// Rewire removes the job deleted from the graph the way Chronos did, and
// returns the new parents and schedules maps (the inputs are not modified)
// and one Change per child of the deleted job, sorted by child name:
//
//   - if deleted had parents, each child replaces the edge to deleted by
//     edges to deleted's parents (keeping its other parents, without
//     duplicates): InheritedParents;
//   - otherwise a child that has other parents just loses the edge
//     (LostParent), and a child with no other parent becomes a scheduled
//     job with deleted's schedule (TookSchedule): its parents become nil
//     and newSchedules holds the schedule. The caller copies the deleted
//     job's time zone along with the schedule.
//
// schedules maps scheduled jobs to their schedule expressions; jobs
// without a schedule may be absent. Rewire of a job that is not in the
// graph removes nothing and changes nothing.
func Rewire(parents map[string][]string, schedules map[string]string, deleted string) (newParents map[string][]string, newSchedules map[string]string, changes []Change) {
	newParents = make(map[string][]string, len(parents))
	for job, ps := range parents {
		if job != deleted {
			newParents[job] = slices.Clone(ps)
		}
	}
	newSchedules = make(map[string]string, len(schedules))
	for job, s := range schedules {
		if job != deleted {
			newSchedules[job] = s
		}
	}

	inherited := parents[deleted]
	schedule, scheduled := schedules[deleted]
	for _, child := range Children(parents, deleted) {
		if child == deleted {
			continue
		}
		var others []string
		for _, p := range parents[child] {
			if p != deleted && !slices.Contains(others, p) {
				others = append(others, p)
			}
		}
		switch {
		case len(inherited) > 0:
			ps := others
			for _, p := range inherited {
				if p != child && !slices.Contains(ps, p) {
					ps = append(ps, p)
				}
			}
			newParents[child] = ps
			changes = append(changes, Change{Job: child, Kind: InheritedParents,
				Description: fmt.Sprintf("parent %q was deleted; %q now depends on %s (the parents of %q)",
					deleted, child, quoteList(ps), deleted)})
		case len(others) > 0:
			newParents[child] = others
			changes = append(changes, Change{Job: child, Kind: LostParent,
				Description: fmt.Sprintf("parent %q was deleted; %q still depends on %s",
					deleted, child, quoteList(others))})
		case scheduled && schedule != "":
			newParents[child] = nil
			newSchedules[child] = schedule
			changes = append(changes, Change{Job: child, Kind: TookSchedule,
				Description: fmt.Sprintf("parent %q was deleted; %q is now a scheduled job with its schedule %q",
					deleted, child, schedule)})
		default:
			newParents[child] = nil
			changes = append(changes, Change{Job: child, Kind: LostParent,
				Description: fmt.Sprintf("parent %q was deleted; it had no schedule to hand over, so %q has neither parents nor a schedule",
					deleted, child)})
		}
	}
	return newParents, newSchedules, changes
}

// quoteList writes names as `"a", "b"`.
func quoteList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	return strings.Join(q, ", ")
}

// Edge is the readiness bookkeeping of one (parent, child) edge, which the
// caller persists next to the child.
type Edge struct {
	// Parent is the parent job.
	Parent string
	// PendingRun is the id of the parent run that succeeded (or failed
	// with softError) and that no child run has consumed yet; "" if none.
	PendingRun string
}

// Ready reports whether a dependent job should run now: it has at least one
// edge and every edge has a pending run. The caller then starts exactly
// one child run, records the pending run ids as its triggers, and clears
// them in the same transaction.
func Ready(edges []Edge) bool {
	if len(edges) == 0 {
		return false
	}
	for _, e := range edges {
		if e.PendingRun == "" {
			return false
		}
	}
	return true
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
