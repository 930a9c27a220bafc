// Package suggest finds the word a person most likely meant when they
// mistyped one (a command, a verb, a flag, a key), for "did you mean"
// hints. It is pure.
package suggest

import "strings"

// Word returns the candidate a mistyped word most likely meant, for a
// "did you mean" hint: the nearest by edit distance (insertions,
// deletions, substitutions and swaps of neighbours count one each) if it
// is at most 2, or 1 for a word of up to 4 letters; else the only
// candidate that starts with word. Ties go to the earliest candidate.
// "" means no hint. It is pure.
func Word(word string, candidates []string) string {
	if word == "" {
		return ""
	}
	best, bestD := "", -1
	for _, c := range candidates {
		d := Distance(strings.ToLower(word), strings.ToLower(c))
		if bestD < 0 || d < bestD {
			best, bestD = c, d
		}
	}
	limit := 2
	if len(word) <= 4 {
		limit = 1
	}
	if bestD >= 0 && bestD <= limit && bestD < len(word) {
		return best
	}
	prefixed := ""
	for _, c := range candidates {
		if strings.HasPrefix(c, word) {
			if prefixed != "" {
				return ""
			}
			prefixed = c
		}
	}
	return prefixed
}

// Distance is the optimal string alignment distance between a and b,
// counted in bytes: insertions, deletions, substitutions and swaps of
// neighbours cost one each.
func Distance(a, b string) int {
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}

// DidYouMean is the hint line for a mistyped word among candidates, with
// its newline; "" when there is no likely one.
func DidYouMean(word string, candidates []string) string {
	if s := Word(word, candidates); s != "" {
		return "Did you mean \"" + s + "\"?\n"
	}
	return ""
}
