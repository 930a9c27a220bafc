package cli

import "corral/internal/suggest"

// Suggest returns the candidate a mistyped word most likely meant, or ""
// (see suggest.Word).
func Suggest(word string, candidates []string) string { return suggest.Word(word, candidates) }

// DidYouMean is the hint line for a mistyped word among candidates, with
// its newline; "" when there is no likely one.
func DidYouMean(word string, candidates []string) string {
	return suggest.DidYouMean(word, candidates)
}
