package main

import (
	"os"
	"runtime/debug"

	"github.com/rs/zerolog"
)

// defaultGCPercent is --gc-percent's default: Go's own (GOGC=100). A held
// session costs the supervisor about 1 KB of live heap, and at GOGC=100
// its anonymous memory settles near twice the live heap; a lower percent
// trades garbage-collector CPU for part of that headroom. Measured on a
// loaded 2-core machine: at 19,000 held sessions (capacity benchmark),
// --gc-percent 50 cut the anonymous memory per held session from about
// 2.6 KB to 2.0 KB (the whole RSS growth, the store's mapped pages
// included, from 3.8 KB to 3.1 KB); in the stages benchmark it cost
// migrated 6 to 14% more CPU and no better latency. Suspend and resume
// latency is what users wait on, so the default stays Go's; a host that
// holds many sessions and has CPU to spare can lower it.
const defaultGCPercent = 100

// applyGCPercent sets the garbage collector's target percentage, unless
// GOGC is set in the environment, which wins (as it does for any Go
// program). A negative percent turns the collector off, as GOGC=off does.
func applyGCPercent(pct int, set bool, log zerolog.Logger) {
	if v := os.Getenv("GOGC"); v != "" {
		if set {
			log.Info().Str("GOGC", v).Int("gc_percent", pct).Msg("GOGC from the environment wins over --gc-percent")
		}
		return
	}
	if pct != 100 { // the runtime's own without GOGC
		debug.SetGCPercent(pct)
	}
}
