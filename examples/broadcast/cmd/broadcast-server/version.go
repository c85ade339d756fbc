//go:build linux

package main

import (
	"context"
	"time"

	"github.com/migrate-run/migrate"
)

// version is this build's version, stateFormat the format of its
// continuations' store; both are set at build time for an upgrade's new
// binary:
//
//	go build -ldflags "-X main.version=2" ./examples/broadcast/cmd/broadcast-server
//
// Version 1 writes "<seq> tick"; any other writes "<seq> tick v<version>"
// (package line), so a client sees which binary serves it. A build whose
// stateFormat differs cannot take back the continuations of another: its
// compat vector says so, and migratectl upgrade refuses it.
var (
	version     = "1"
	stateFormat = "1"
)

// compatTags is the compatibility vector of this build, registered for its
// version at start and carried by every continuation.
func compatTags() []migrate.CompatTag {
	return []migrate.CompatTag{{ID: 1, Name: "state-format", Value: stateFormat}}
}

// registerCompat registers this build's vector under its version, before
// the attach handler: an upgrade to this build checks the continuations
// against it before it hands them over.
func registerCompat(ctx context.Context, log func(string, ...any)) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := migrate.RegisterCompat(ctx, version, compatTags()); err != nil {
		log("register compat vector of version %s: %v", version, err)
	}
}
