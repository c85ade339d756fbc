//go:build race

package supervisor

// raceEnabled is true when the tests run with -race, whose processes start
// several times slower.
const raceEnabled = true
