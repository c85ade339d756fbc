package tests

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"
)

// numberStream reads counter-server's numbered lines from one connection
// in a goroutine of its own, checks that each is one more than the one
// before (the first may be any), and notes when each arrives. The peer
// benchmarks use it as their client.
type numberStream struct {
	conn    net.Conn
	changed chan struct{} // a line arrived or the stream ended; capacity 1
	done    chan struct{} // the reading goroutine returned

	mu        sync.Mutex
	first     uint64    // the first number received, 0 before one
	firstTime time.Time // when it arrived
	last      uint64    // the last number received
	lines     int       // lines received
	err       error     // why the stream ended: read error, gap, duplicate, garbled line
	watch     uint64    // markNext's number: the line after it is timed
	watchAt   time.Time // when the line watch+1 arrived, zero before
}

func newNumberStream(conn net.Conn) *numberStream {
	s := &numberStream{conn: conn, changed: make(chan struct{}, 1), done: make(chan struct{})}
	go s.read()
	return s
}

func (s *numberStream) read() {
	defer close(s.done)
	r := bufio.NewReader(s.conn)
	for {
		line, err := r.ReadString('\n')
		now := time.Now()
		if err == nil {
			var n uint64
			n, err = strconv.ParseUint(strings.TrimSuffix(line, "\n"), 10, 64)
			if err != nil {
				err = fmt.Errorf("garbled line %q", line)
			}
			s.mu.Lock()
			switch {
			case err != nil:
			case s.lines > 0 && n > s.last+1:
				err = fmt.Errorf("gap: expected %d got %d", s.last+1, n)
			case s.lines > 0 && n <= s.last:
				err = fmt.Errorf("duplicate: expected %d got %d", s.last+1, n)
			default:
				if s.lines == 0 {
					s.first, s.firstTime = n, now
				}
				s.last, s.lines = n, s.lines+1
				if n == s.watch+1 {
					s.watchAt = now
				}
			}
			s.mu.Unlock()
		}
		if err != nil {
			s.mu.Lock()
			s.err = err
			s.mu.Unlock()
		}
		select {
		case s.changed <- struct{}{}:
		default:
		}
		if err != nil {
			return
		}
	}
}

// state returns the first and last numbers received, how many lines, and
// why the stream ended (nil while it goes on).
func (s *numberStream) state() (first, last uint64, lines int, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.first, s.last, s.lines, s.err
}

// firstAt returns when the first line arrived; false before one did.
func (s *numberStream) firstAt() (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.firstTime, s.lines > 0
}

// markNext starts timing the line after the last one received, and
// returns the last one's number.
func (s *numberStream) markNext() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.watch, s.watchAt = s.last, time.Time{}
	return s.last
}

// waitMarked waits for the line after markNext's and returns when it
// arrived.
func (s *numberStream) waitMarked(timeout time.Duration) (time.Time, error) {
	var at time.Time
	err := s.waitFor(timeout, func() bool { at = s.watchAt; return !at.IsZero() })
	return at, err
}

// waitLines waits until at least n lines have arrived.
func (s *numberStream) waitLines(n int, timeout time.Duration) error {
	return s.waitFor(timeout, func() bool { return s.lines >= n })
}

// waitEnd waits until the stream ends and returns why.
func (s *numberStream) waitEnd(timeout time.Duration) error {
	select {
	case <-s.done:
	case <-time.After(timeout):
		return fmt.Errorf("the stream still runs after %v", timeout)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

var errStreamEnded = errors.New("stream ended")

// waitFor waits until ok (called with mu held) holds, the stream ends, or
// timeout passes.
func (s *numberStream) waitFor(timeout time.Duration, ok func() bool) error {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		done, err, last := ok(), s.err, s.last
		s.mu.Unlock()
		switch {
		case done:
			return nil
		case err != nil:
			return fmt.Errorf("%w after %d: %v", errStreamEnded, last, err)
		}
		select {
		case <-s.changed:
		case <-deadline.C:
			return fmt.Errorf("no line within %v (last %d)", timeout, last)
		}
	}
}

// close closes the connection and waits for the reading goroutine.
func (s *numberStream) close() {
	s.conn.Close()
	<-s.done
}
