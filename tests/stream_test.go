package tests

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// stream is the test's own counter client: it reads counter-server's
// numbered lines, checks each is one more than the last, and records when
// each arrived, so tests can wait for a number and time a resume.
type stream struct {
	conn net.Conn
	// anyStart takes the first number as it comes (broadcast-server's
	// clients join mid-stream); otherwise the first must be 1.
	anyStart bool
	maxGap   time.Duration // longest wait between two lines
	lines    uint64
	mu       sync.Mutex
	last     uint64
	at       time.Time // arrival of last
	err      error     // a gap, duplicate or garbled line; the read error at the end
	more     chan struct{}
	done     chan struct{}
}

// dialStream connects to a counter-server and reads until the connection
// ends; it is closed at cleanup.
func dialStream(t testing.TB, addr string) *stream { return dial(t, addr, false) }

// dialBroadcast connects to a broadcast-server: lines are "<seq> <payload>"
// and the first seq is wherever the client joined.
func dialBroadcast(t testing.TB, addr string) *stream { return dial(t, addr, true) }

func dial(t testing.TB, addr string, anyStart bool) *stream {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	s := &stream{conn: conn, anyStart: anyStart, more: make(chan struct{}, 1), done: make(chan struct{})}
	go s.read()
	t.Cleanup(func() { conn.Close(); <-s.done })
	return s
}

func (s *stream) read() {
	defer close(s.done)
	sc := bufio.NewScanner(s.conn)
	for sc.Scan() {
		now := time.Now()
		seq, _, _ := strings.Cut(sc.Text(), " ")
		n, err := strconv.ParseUint(seq, 10, 64)
		s.mu.Lock()
		switch {
		case err != nil:
			s.err = fmt.Errorf("garbled line %q after %d", sc.Text(), s.last)
		case s.anyStart && s.lines == 0:
		case n != s.last+1:
			s.err = fmt.Errorf("expected %d got %d", s.last+1, n)
		}
		if s.lines > 0 {
			s.maxGap = max(s.maxGap, now.Sub(s.at))
		}
		s.last, s.at = n, now
		s.lines++
		bad := s.err != nil
		s.mu.Unlock()
		select {
		case s.more <- struct{}{}:
		default:
		}
		if bad {
			return
		}
	}
	s.mu.Lock()
	if s.err == nil {
		s.err = fmt.Errorf("connection ended after %d: %v", s.last, sc.Err())
	}
	s.mu.Unlock()
}

// state returns the last number, when it arrived, and the error so far.
func (s *stream) state() (uint64, time.Time, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last, s.at, s.err
}

// waitPast waits until a number above n arrives and returns it and its
// arrival time.
func (s *stream) waitPast(ctx context.Context, n uint64) (uint64, time.Time, error) {
	for {
		last, at, err := s.state()
		if err != nil {
			return last, at, err
		}
		if last > n {
			return last, at, nil
		}
		select {
		case <-s.more:
		case <-s.done:
		case <-ctx.Done():
			return last, at, fmt.Errorf("no number past %d: %w", n, ctx.Err())
		}
	}
}

// resetGap restarts the measure of the longest wait between two lines and
// returns the longest so far.
func (s *stream) resetGap() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.maxGap
	s.maxGap = 0
	return g
}
