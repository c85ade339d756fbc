//go:build linux

package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestHelloThenEchoesLinesInUpperCase(t *testing.T) {
	checkFDs(t)
	s := serveInProcess(t, testConfig())
	if m := s.notes.next(t); m.text != "READY=1\nSTATUS=serving "+s.addr {
		t.Fatalf("first notification %q, want READY=1 and STATUS=serving %s", m.text, s.addr)
	}
	c := dial(t, s.addr)
	gen, pid := c.hello(t)
	if gen != 7 || pid != os.Getpid() {
		t.Errorf("hello %d %d, want the generation 7 and pid %d", gen, pid, os.Getpid())
	}
	if _, err := c.conn.Write([]byte("abc\nMiXed 1 é\nlast without newline")); err != nil {
		t.Fatal(err)
	}
	c.conn.(*net.TCPConn).CloseWrite()
	for _, want := range []string{"ABC", "MIXED 1 É", "LAST WITHOUT NEWLINE"} {
		if got := c.line(t); got != want {
			t.Errorf("echo %q, want %q", got, want)
		}
	}
	if rest, err := c.r.ReadString('\n'); err == nil || rest != "" {
		t.Errorf("after the client's end the server sent %q (%v), want it to close", rest, err)
	}
	if m := s.notes.next(t); m.text != "STATUS=1 connections served" {
		t.Errorf("notification after one connection %q, want STATUS=1 connections served", m.text)
	}
	c.conn.Close()
	s.cancel()
	if err := s.wait(t); err != nil {
		t.Errorf("serve after cancel: %v", err)
	}
}

// TestStatusAtMostEvery100ms serves connections back to back: the STATUS
// messages must count up to the last one, and come no more often than one
// per 100 ms.
func TestStatusAtMostEvery100ms(t *testing.T) {
	checkFDs(t)
	const conns = 40
	start := time.Now() // no STATUS can be sent before this
	s := serveInProcess(t, testConfig())
	s.notes.next(t) // READY=1
	for range conns {
		c := dial(t, s.addr)
		c.hello(t)
		c.conn.Close()
	}
	var counts []int
	for _, m := range s.notes.until(t, fmt.Sprintf("STATUS=%d connections", conns)) {
		n, ok := strings.CutPrefix(m.text, "STATUS=")
		n, ok2 := strings.CutSuffix(n, " connections served")
		count, err := strconv.Atoi(n)
		if !ok || !ok2 || err != nil {
			t.Fatalf("notification %q, want STATUS=N connections served", m.text)
		}
		counts = append(counts, count)
	}
	elapsed := time.Since(start) // every STATUS was sent before this
	if limit := int(elapsed/defaultStatusEvery) + 1; len(counts) > limit {
		t.Errorf("%d STATUS messages in %v, want at most %d: %v", len(counts), elapsed, limit, counts)
	}
	for i := 1; i < len(counts); i++ {
		if counts[i] <= counts[i-1] {
			t.Errorf("STATUS counts %v do not go up", counts)
		}
	}
	t.Logf("%d connections, STATUS counts %v in %v", conns, counts, elapsed)
}

func TestPetsTheWatchdog(t *testing.T) {
	checkFDs(t)
	cfg := testConfig()
	cfg.watchdog = 20 * time.Millisecond
	s := serveInProcess(t, cfg)
	start := time.Now()
	pets := 0
	for pets < 3 {
		if m := s.notes.next(t); m.text == "WATCHDOG=1" {
			pets++
		}
	}
	if elapsed := time.Since(start); elapsed < 2*cfg.watchdog {
		t.Errorf("3 WATCHDOG=1 in %v, want one per %v", elapsed, cfg.watchdog)
	}
}

// TestStopFinishesOpenConnections cancels the server's context (what
// SIGTERM does) with a client connected: STOPPING=1 comes, new clients are
// refused, the open one is still served, and serve returns once it left.
func TestStopFinishesOpenConnections(t *testing.T) {
	checkFDs(t)
	s := serveInProcess(t, testConfig())
	s.notes.next(t) // READY=1
	c := dial(t, s.addr)
	c.hello(t)
	s.cancel()
	if m := s.notes.next(t); m.text != "STOPPING=1" {
		t.Fatalf("notification after the stop %q, want STOPPING=1", m.text)
	}
	if conn, err := net.Dial("tcp", s.addr); err == nil {
		conn.Close()
		t.Errorf("a new client connected after STOPPING=1")
	}
	if _, err := c.conn.Write([]byte("still here\n")); err != nil {
		t.Fatal(err)
	}
	if got := c.line(t); got != "STILL HERE" {
		t.Errorf("echo during the stop %q, want STILL HERE", got)
	}
	select {
	case err := <-s.result:
		t.Fatalf("serve returned %v with a connection open", err)
	default:
	}
	c.conn.Close()
	if err := s.wait(t); err != nil {
		t.Errorf("serve: %v", err)
	}
	if m := s.notes.next(t); m.text != "STATUS=1 connections served" {
		t.Errorf("last notification %q, want the final STATUS=1 connections served", m.text)
	}
}

func TestStopClosesConnectionsAfterTheGrace(t *testing.T) {
	checkFDs(t)
	cfg := testConfig()
	cfg.grace = 100 * time.Millisecond
	s := serveInProcess(t, cfg)
	s.notes.next(t) // READY=1
	c := dial(t, s.addr)
	c.hello(t)
	start := time.Now()
	s.cancel()
	if err := s.wait(t); err != nil {
		t.Errorf("serve: %v", err)
	}
	if elapsed := time.Since(start); elapsed < cfg.grace {
		t.Errorf("serve returned %v after the stop, before the %v grace", elapsed, cfg.grace)
	}
	if line, err := c.r.ReadString('\n'); err == nil {
		t.Errorf("read %q from a connection the grace ended, want its end", line)
	}
	if !strings.Contains(s.log.String(), "closing 1 connections still open after 100ms") {
		t.Errorf("log %q does not say it closed the open connection", s.log)
	}
}

func TestExitAfterServingN(t *testing.T) {
	checkFDs(t)
	cfg := testConfig()
	cfg.exitAfter = 2
	s := serveInProcess(t, cfg)
	s.notes.next(t) // READY=1
	first := dial(t, s.addr)
	first.hello(t)
	second := dial(t, s.addr)
	second.hello(t)
	first.conn.Close()
	select {
	case err := <-s.result:
		t.Fatalf("serve returned %v after one connection of two", err)
	default:
	}
	second.conn.Close()
	if err := s.wait(t); !errors.Is(err, errServedEnough) {
		t.Errorf("serve after 2 connections: %v, want errServedEnough", err)
	}
	notes := s.notes.pending(t)
	if !slices.Contains(notes, "STOPPING=1") || notes[len(notes)-1] != "STATUS=2 connections served" {
		t.Errorf("notifications %q, want STOPPING=1 and STATUS=2 connections served last", notes)
	}
}
