//go:build linux

package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"time"
)

// defaultGrace is how long open connections may go on after the server
// is told to stop.
const defaultGrace = 2 * time.Second

// errServedEnough is returned by serve when --exit-after connections have
// been served.
var errServedEnough = errors.New("served the connections asked for")

// config is what the server does.
type config struct {
	generation  uint64        // this start's generation, in the hello line
	exitAfter   int64         // stop after this many connections ended; 0: never
	watchdog    time.Duration // how often to send WATCHDOG=1; 0: never
	grace       time.Duration // how long open connections may go on after a stop
	statusEvery time.Duration // the shortest time between two STATUS messages
}

// server accepts connections on its listeners and echoes lines.
type server struct {
	cfg    config
	notify func(string)
	log    func(string, ...any)
	status *statusReporter

	mu    sync.Mutex
	conns map[net.Conn]struct{} // open connections, closed by handle (or at the end of the grace)
	wg    sync.WaitGroup        // handle goroutines

	quit     chan struct{} // closed when the server stops accepting
	enough   chan struct{} // closed when exitAfter connections were served
	onceDone sync.Once
}

func newServer(cfg config, notify func(string), log func(string, ...any)) *server {
	return &server{
		cfg:    cfg,
		notify: notify,
		log:    log,
		status: newStatusReporter(cfg.statusEvery, notify),
		conns:  map[net.Conn]struct{}{},
		quit:   make(chan struct{}),
		enough: make(chan struct{}),
	}
}

// serve accepts on lns (which it owns and closes) until ctx ends, and
// returns nil, or until exitAfter connections were served, and returns
// errServedEnough. Either way it has sent STOPPING=1, closed the
// listeners and ended every connection.
func (s *server) serve(ctx context.Context, lns []net.Listener) error {
	stopNotes := make(chan struct{})
	var notes sync.WaitGroup
	notes.Go(func() { s.status.run(stopNotes) })
	if s.cfg.watchdog > 0 {
		notes.Go(func() { petWatchdog(s.cfg.watchdog, s.notify, stopNotes) })
	}
	var accepting sync.WaitGroup
	for _, ln := range lns {
		accepting.Go(func() { s.acceptLoop(ln) })
	}
	s.log("generation %d serving %s", s.cfg.generation, addrs(lns))
	s.notify("READY=1\nSTATUS=serving " + addrs(lns))

	var err error
	select {
	case <-ctx.Done():
		s.log("stopping: %v", context.Cause(ctx))
	case <-s.enough:
		s.log("served %d connections, stopping", s.cfg.exitAfter)
		err = errServedEnough
	}
	close(s.quit)
	closeListeners(lns)
	accepting.Wait()
	s.notify("STOPPING=1") // no connection is accepted from here on
	s.drain()
	close(stopNotes)
	notes.Wait()
	return err
}

// acceptLoop hands each connection to handle until ln is closed.
func (s *server) acceptLoop(ln net.Listener) {
	var backoff time.Duration
	for {
		c, err := ln.Accept()
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil { // EMFILE and the like: let descriptors free up
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			s.log("accept on %s: %v; retrying in %v", ln.Addr(), err, backoff)
			select {
			case <-time.After(backoff):
			case <-s.quit:
			}
			continue
		}
		backoff = 0
		s.mu.Lock()
		s.conns[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go s.handle(c)
	}
}

// handle says hello, then echoes lines in upper case until the client
// closes (or a line is longer than bufio.MaxScanTokenSize).
func (s *server) handle(c net.Conn) {
	defer s.wg.Done()
	defer s.ended(c)
	w := bufio.NewWriter(c)
	fmt.Fprintf(w, "hello %d %d\n", s.cfg.generation, os.Getpid())
	if w.Flush() != nil {
		return
	}
	sc := bufio.NewScanner(c)
	for sc.Scan() {
		w.Write(bytes.ToUpper(sc.Bytes()))
		w.WriteByte('\n')
		if w.Flush() != nil {
			return
		}
	}
}

// ended closes c and counts it served.
func (s *server) ended(c net.Conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	c.Close()
	n := s.status.bump()
	if s.cfg.exitAfter > 0 && n >= s.cfg.exitAfter {
		s.onceDone.Do(func() { close(s.enough) })
	}
}

// drain waits up to the grace for open connections to end, then closes
// the rest and waits for their handlers.
func (s *server) drain() {
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	grace := time.NewTimer(s.cfg.grace)
	defer grace.Stop()
	select {
	case <-done:
		return
	case <-grace.C:
	}
	s.mu.Lock()
	s.log("closing %d connections still open after %v", len(s.conns), s.cfg.grace)
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	<-done
}
