//go:build linux

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/migrate-run/migrate"
	"golang.org/x/sys/unix"
)

// connFD is where the parent puts the client's connection.
const connFD = 3

// closeTimeout bounds the wait for the supervisor to drop a session whose
// client left.
const closeTimeout = 5 * time.Second

// stream is one client's stream in a child.
type stream struct {
	conn     net.Conn
	next     uint64 // the next number to send
	sess     *migrate.Session
	interval time.Duration
	log      func(string, ...any)
	// resumed is set in a process that resumed a continuation: its first
	// line, overdue since the suspend, goes at once, not an interval later.
	resumed bool
}

// serve is a per-connection child: fresh (the connection on descriptor 3)
// or resumed from a complete continuation (MIGRATE_CONT).
func serve(args []string, stderr io.Writer, log func(string, ...any)) int {
	fs := flag.NewFlagSet(prog+" serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	interval := fs.Duration("interval", defaultInterval, "pause between two lines")
	if err := fs.Parse(args); err != nil || fs.NArg() > 0 || *interval <= 0 {
		fs.Usage()
		return 2
	}
	ctx := context.Background()
	s := &stream{interval: *interval, log: log}
	var err error
	if migrate.IsContinuation() {
		err = s.resume(ctx)
	} else {
		err = s.start(ctx)
	}
	if err != nil {
		log("%v", err)
		return 1
	}
	return s.run(ctx)
}

// start takes the connection from descriptor 3 and registers it as a
// session when a supervisor is there.
func (s *stream) start(ctx context.Context) error {
	if _, err := unix.FcntlInt(connFD, unix.F_GETFD, 0); err != nil {
		return fmt.Errorf("no connection on descriptor %d: %w", connFD, err)
	}
	f := os.NewFile(connFD, "client")
	conn, err := net.FileConn(f)
	f.Close()
	if err != nil {
		return fmt.Errorf("connection on descriptor %d: %w", connFD, err)
	}
	s.conn, s.next = conn, 1
	s.log("pid %d serving %s from %d", os.Getpid(), conn.RemoteAddr(), s.next)
	if !migrate.Available() {
		return nil
	}
	sess, err := migrate.GetSession(ctx, conn.(syscall.Conn), migrate.WithName("counter"), migrate.WithHandler(migrate.Complete))
	if err != nil {
		s.log("streaming without a session: %v", err)
		return nil
	}
	s.sess = sess
	return nil
}

// resume takes over the continuation this process was started for: the
// connection, the next number, the session; then confirms. The store's
// value and the session's registration are asked for at once (a Client
// takes concurrent requests), one round trip to the supervisor instead of
// two.
func (s *stream) resume(ctx context.Context) error {
	r, _, err := migrate.Resumed(ctx)
	if err != nil {
		return err
	}
	var (
		wg      sync.WaitGroup
		v       []byte
		sess    *migrate.Session
		get, rg error
	)
	wg.Go(func() { v, get = r.Retrieve(ctx, "next") })
	wg.Go(func() {
		sess, rg = r.Register(ctx, migrate.WithName("counter"), migrate.WithHandler(migrate.Complete))
	})
	wg.Wait()
	if err := errors.Join(get, rg); err != nil {
		return err
	}
	next, err := strconv.ParseUint(string(v), 10, 64)
	if err != nil || next == 0 {
		return fmt.Errorf("continuation %d: bad \"next\" %q", r.Cont, v)
	}
	if err := r.Confirm(ctx); err != nil {
		return err
	}
	s.conn, s.next, s.sess, s.resumed = r.Conn, next, sess, true
	s.log("resumed cont %d from old pid %d at %d", r.Cont, r.OldPID, next)
	return nil
}

// run streams until the client goes or the session is suspended. A
// suspend request is taken between two lines: no line is half-written.
func (s *stream) run(ctx context.Context) int {
	var suspend <-chan *migrate.SuspendRequest
	if s.sess != nil {
		suspend = s.sess.Suspend()
	}
	tick := time.NewTicker(s.interval)
	defer tick.Stop()
	line := make([]byte, 0, 24)
	send := func() bool {
		line = appendLine(line[:0], s.next)
		if _, err := s.conn.Write(line); err != nil {
			s.gone(ctx, err)
			return false
		}
		s.next++
		return true
	}
	if s.resumed && !send() {
		return 0
	}
	for {
		select {
		case req := <-suspend:
			if s.suspend(req) {
				return 0
			}
		case <-tick.C:
			if !send() {
				return 0
			}
		}
	}
}

// suspend answers req with a complete continuation: the connection and
// the next number. It reports whether the supervisor took the session.
func (s *stream) suspend(req *migrate.SuspendRequest) bool {
	at := strconv.FormatUint(s.next, 10)
	cont, err := req.Return(migrate.Continuation{
		Kind:   migrate.Complete,
		Files:  []migrate.File{{Conn: s.conn.(syscall.Conn), Name: "client", Role: migrate.RoleConn, Session: true}},
		Store:  []migrate.Entry{{Key: "next", Value: []byte(at)}},
		Compat: compatTags(),
	})
	if err != nil {
		s.log("suspend at %s failed, streaming on: %v", at, err)
		return false
	}
	s.log("suspended at %s (cont %d)", at, cont)
	return true
}

// gone ends the stream of a client that went away.
func (s *stream) gone(ctx context.Context, err error) {
	s.log("client %s gone at %d: %v", s.conn.RemoteAddr(), s.next, err)
	s.conn.Close()
	if s.sess != nil {
		ctx, cancel := context.WithTimeout(ctx, closeTimeout)
		defer cancel()
		if err := s.sess.Close(ctx); err != nil {
			s.log("close session: %v", err)
		}
	}
}
