//go:build linux

package main

import (
	"context"
	"flag"
	"os"
	"syscall"
	"time"

	"github.com/migrate-run/migrate"
)

// stall streams to every client, and its suspend handler never answers: it
// says it holds the request and waits until the request lapses.
func stall(args []string) error {
	fs := flag.NewFlagSet("stall", flag.ContinueOnError)
	interval := fs.Duration("interval", 5*time.Millisecond, "pause between two lines")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctx := context.Background()
	ln, err := listener()
	if err != nil {
		return err
	}
	for {
		conn, err := ln.Accept()
		if err != nil {
			return err
		}
		hold := func(r *migrate.SuspendRequest) {
			logf("pid %d holds the suspend request for session %d", os.Getpid(), r.Session.ID())
			<-r.Context().Done()
			logf("the suspend request for session %d lapsed", r.Session.ID())
		}
		sess, err := migrate.GetSession(ctx, conn.(syscall.Conn), migrate.WithName("stall"),
			migrate.WithHandler(migrate.Complete), migrate.OnSuspend(hold))
		if err != nil {
			return err
		}
		logf("session %d for %s", sess.ID(), conn.RemoteAddr())
		// The streamer gets no suspend requests: OnSuspend takes them.
		go (&streamer{conn: conn, next: 1, interval: *interval}).run()
	}
}
