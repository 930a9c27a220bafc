//go:build chaos

package chaos

import (
	"fmt"
	"strings"
	"sync"
	"time"
)

// result is one scenario's row of the summary table.
type result struct {
	scenario      string
	newLeader     string // see leaderWatch.summary
	backToDesired string
	tasksLost     int
	lostDetail    string // where the lost tasks were, when any
	runsMissed    int
	runsSkipped   int
	runsDoubled   int
	verdict       string // "ok", "N violations", or how it broke off
	took          time.Duration
	notes         []string
}

var (
	resultsMu sync.Mutex
	results   []result
)

func record(r result) {
	resultsMu.Lock()
	defer resultsMu.Unlock()
	results = append(results, r)
}

// summaryTable renders the rows as a fixed-width table, with notes below.
func summaryTable(rs []result, total time.Duration) string {
	head := []string{"scenario", "new leader", "back to desired", "tasks lost", "runs missed", "runs skipped", "runs doubled", "verdict", "took"}
	rows := [][]string{head}
	for _, r := range rs {
		lost := fmt.Sprint(r.tasksLost)
		if r.lostDetail != "" {
			lost += " (" + r.lostDetail + ")"
		}
		rows = append(rows, []string{r.scenario, r.newLeader, r.backToDesired, lost,
			fmt.Sprint(r.runsMissed), fmt.Sprint(r.runsSkipped), fmt.Sprint(r.runsDoubled), r.verdict, r.took.Round(time.Second).String()})
	}
	width := make([]int, len(head))
	for _, row := range rows {
		for i, cell := range row {
			width[i] = max(width[i], len([]rune(cell)))
		}
	}
	var b strings.Builder
	for n, row := range rows {
		for i, cell := range row {
			if i > 0 {
				b.WriteString(" | ")
			}
			b.WriteString(cell + strings.Repeat(" ", width[i]-len([]rune(cell))))
		}
		b.WriteString("\n")
		if n == 0 {
			for i, w := range width {
				if i > 0 {
					b.WriteString("-|-")
				}
				b.WriteString(strings.Repeat("-", w))
			}
			b.WriteString("\n")
		}
	}
	fmt.Fprintf(&b, "total: %v\n", total.Round(time.Second))
	for _, r := range rs {
		for _, n := range r.notes {
			fmt.Fprintf(&b, "%s: %s\n", r.scenario, n)
		}
	}
	return b.String()
}
