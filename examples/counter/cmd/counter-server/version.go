package main

import (
	"context"
	"strconv"
	"time"

	"github.com/migrate-run/migrate"
)

// version is this build's version, stateFormat the format of its
// continuation's store; both are set at build time for an upgrade's new
// binary:
//
//	go build -ldflags "-X main.version=2" ./examples/counter/cmd/counter-server
//
// Version 1 writes "<n>"; any other writes "<n> v<version>", so a client
// sees which binary serves it. A build whose stateFormat differs cannot
// resume the continuations of another: its compat vector says so, and
// migratectl upgrade refuses it.
var (
	version     = "1"
	stateFormat = "1"
)

// compatTags is the compatibility vector of this build, registered for its
// version by the listening process and carried by every continuation.
func compatTags() []migrate.CompatTag {
	return []migrate.CompatTag{{ID: 1, Name: "state-format", Value: stateFormat}}
}

// registerCompat registers this build's vector under its version; without
// a supervisor it does nothing.
func registerCompat(log func(string, ...any)) {
	if !migrate.Available() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := migrate.RegisterCompat(ctx, version, compatTags()); err != nil {
		log("register compat vector of version %s: %v", version, err)
	}
}

// appendLine appends the line of number n to b.
func appendLine(b []byte, n uint64) []byte {
	b = appendUint(b, n)
	if version != "1" {
		b = append(append(b, " v"...), version...)
	}
	return append(b, '\n')
}

func appendUint(b []byte, n uint64) []byte { return strconv.AppendUint(b, n, 10) }
