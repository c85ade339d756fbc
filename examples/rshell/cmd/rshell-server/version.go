//go:build linux

package main

import (
	"context"
	"time"

	"github.com/migrate-run/migrate"
)

// version is this build's version and stateFormat the format of its
// continuations' store (state); both can be set at build time for an
// upgrade's new binary:
//
//	go build -ldflags "-X main.version=2" ./examples/rshell/cmd/rshell-server
//
// A build whose stateFormat differs cannot take the sessions of another
// over: its compat vector says so, and migratectl upgrade refuses it.
var (
	version     = "1"
	stateFormat = "1"
)

// compatTags is the compatibility vector of this build, registered for its
// version and carried by every continuation.
func compatTags() []migrate.CompatTag {
	return []migrate.CompatTag{{ID: 1, Name: "state-format", Value: stateFormat}}
}

// registerCompat registers this build's vector under its version.
func registerCompat(ctx context.Context, log func(string, ...any)) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := migrate.RegisterCompat(ctx, version, compatTags()); err != nil {
		log("register compat vector of version %s: %v", version, err)
	}
}
