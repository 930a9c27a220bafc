package dag

import (
	"cmp"
	"slices"
	"strings"
)

// NodeInfo is one job as the graph drawings show it.
type NodeInfo struct {
	// Name is the job's name.
	Name string
	// Parents are the job's parents; each becomes an edge parent -> Name.
	Parents []string
	// LastState is the outcome of the job's last run: "success",
	// "failure", or "fresh" when it has not finished a run yet; "" is
	// drawn as "fresh".
	LastState string
	// Status is what the job is doing now: "idle", "queued" or "running";
	// "" is drawn as "idle".
	Status string
}

// Fill colors of the nodes by last state; unknown states are drawn fresh.
var stateColors = map[string]string{
	"success": "#b7e1a1",
	"failure": "#f4a6a6",
	"fresh":   "#e0e0e0",
}

// Dot returns the graph as Graphviz DOT text: "digraph G {", one node per
// job (labelled with its name, last state and status, filled green for
// success, red for failure, grey otherwise, drawn thick while running and
// dashed while queued), one edge per parent from parent to child, and "}".
// Nodes and edges are sorted by name, so equal inputs give equal text.
// Parents that are not in jobs appear only through their edges.
func Dot(jobs []NodeInfo) string {
	nodes := sortedNodes(jobs)
	var b strings.Builder
	b.WriteString("digraph G {\n")
	b.WriteString("\tnode [shape=box, style=\"rounded,filled\", fontname=\"Helvetica\"];\n")
	for _, n := range nodes {
		color, ok := stateColors[n.LastState]
		if !ok {
			color = stateColors["fresh"]
		}
		b.WriteString("\t" + dotID(n.Name) + " [label=" + dotID(n.Name+"\n"+n.LastState+", "+n.Status) +
			", fillcolor=" + dotID(color))
		switch n.Status {
		case "running":
			b.WriteString(", penwidth=3")
		case "queued":
			b.WriteString(", style=\"rounded,filled,dashed\"")
		}
		b.WriteString("];\n")
	}
	for _, e := range edges(nodes) {
		b.WriteString("\t" + dotID(e[0]) + " -> " + dotID(e[1]) + ";\n")
	}
	b.WriteString("}\n")
	return b.String()
}

// JSON returns the graph as a value for encoding/json:
//
//	{"nodes": [{"name", "lastState", "status"}, …], "edges": [{"from", "to"}, …]}
//
// with nodes sorted by name, edges by (from, to), and empty lists as [].
func JSON(jobs []NodeInfo) map[string]any {
	nodes := sortedNodes(jobs)
	ns := make([]map[string]any, 0, len(nodes))
	for _, n := range nodes {
		ns = append(ns, map[string]any{"name": n.Name, "lastState": n.LastState, "status": n.Status})
	}
	es := make([]map[string]any, 0)
	for _, e := range edges(nodes) {
		es = append(es, map[string]any{"from": e[0], "to": e[1]})
	}
	return map[string]any{"nodes": ns, "edges": es}
}

// sortedNodes returns a sorted copy of jobs with empty states filled in.
func sortedNodes(jobs []NodeInfo) []NodeInfo {
	nodes := slices.Clone(jobs)
	for i := range nodes {
		nodes[i].LastState = cmp.Or(nodes[i].LastState, "fresh")
		nodes[i].Status = cmp.Or(nodes[i].Status, "idle")
	}
	slices.SortStableFunc(nodes, func(a, b NodeInfo) int { return cmp.Compare(a.Name, b.Name) })
	return nodes
}

// edges lists the distinct parent -> child pairs, sorted.
func edges(nodes []NodeInfo) [][2]string {
	var out [][2]string
	for _, n := range nodes {
		for _, p := range n.Parents {
			out = append(out, [2]string{p, n.Name})
		}
	}
	slices.SortFunc(out, func(a, b [2]string) int {
		return cmp.Or(cmp.Compare(a[0], b[0]), cmp.Compare(a[1], b[1]))
	})
	return slices.Compact(out)
}

// dotID quotes s as a DOT string. DOT reads \n in a label as a line break,
// so newlines are written that way.
func dotID(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	return `"` + r.Replace(s) + `"`
}
