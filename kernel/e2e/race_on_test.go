//go:build race

package e2e

// raceEnabled makes the e2e binary carry the race detector too when the
// tests themselves run with -race.
const raceEnabled = true
