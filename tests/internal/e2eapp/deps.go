//go:build linux

package main

import (
	"context"
	"flag"
	"fmt"
	"strconv"
	"syscall"
	"time"

	"github.com/migrate-run/migrate"
)

// deps streams to every client; the first client's session is "main" and
// every later one depends on it. Resumed sessions come back through the
// attach handler.
func deps(args []string) error {
	fs := flag.NewFlagSet("deps", flag.ContinueOnError)
	interval := fs.Duration("interval", 5*time.Millisecond, "pause between two lines")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctx := context.Background()
	c, err := migrate.Default(ctx)
	if err != nil {
		return err
	}
	if err := c.OnAttach(ctx, func(a *migrate.Attached) error { return attach(a, *interval) }); err != nil {
		return err
	}
	ln, err := listener()
	if err != nil {
		return err
	}
	var main *migrate.Session
	for {
		conn, err := ln.Accept()
		if err != nil {
			return err
		}
		opts := []migrate.SessionOption{migrate.WithName("main"), migrate.WithHandler(migrate.Internal)}
		if main != nil {
			opts = []migrate.SessionOption{migrate.WithName("dependent"), migrate.WithHandler(migrate.Internal), migrate.DependsOn(main)}
		}
		sess, err := c.GetSession(ctx, conn.(syscall.Conn), opts...)
		if err != nil {
			return fmt.Errorf("register %s: %w", conn.RemoteAddr(), err)
		}
		if main == nil {
			main = sess
		}
		logf("session %d (%s) for %s", sess.ID(), sess.Name(), conn.RemoteAddr())
		go (&streamer{conn: conn, sess: sess, next: 1, interval: *interval}).run()
	}
}

// attach takes a session back and streams on from its stored number.
func attach(a *migrate.Attached, interval time.Duration) error {
	v, _ := a.Value("next")
	next, err := strconv.ParseUint(string(v), 10, 64)
	if err != nil {
		return fmt.Errorf("cont %d: bad next %q", a.Cont, v)
	}
	conn, err := a.Conn()
	if err != nil {
		return err
	}
	logf("attached cont %d as session %d at %d", a.Cont, a.Session.ID(), next)
	go (&streamer{conn: conn, sess: a.Session, next: next, interval: interval}).run()
	return nil
}
