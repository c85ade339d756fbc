//go:build linux

package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/migrate-run/migrate/examples/broadcast/line"
)

// errTooOld is returned for a position further back than the hub
// catches a client up from.
var errTooOld = errors.New("position too far back")

// batchLines bounds the lines one since call returns: a client far
// behind is caught up a batch at a time, with a suspend request taken
// between two batches.
const batchLines = 1024

// hub is the ticking source. The source is a recording: line n is the
// same whichever process makes it (but for the version tag), so the hub
// keeps no lines, only how far the source has got, and any process can go
// on from any position. That is what lets a fresh process — the new
// program of an upgrade — take over clients of the old one.
type hub struct {
	mu      sync.Mutex
	last    uint64 // sequence number of the newest line; 0 before the first
	window  uint64 // how far back a returning client is caught up
	version string // this build's, tagged onto every line
	wake    chan struct{}
}

// closed is a wake channel for a client with lines still due.
var closed = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

func newHub(window uint64, version string) *hub {
	return &hub{window: window, version: version, wake: make(chan struct{})}
}

// run adds a line every interval until ctx ends.
func (h *hub) run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			h.add()
		}
	}
}

func (h *hub) add() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.last++
	close(h.wake)
	h.wake = make(chan struct{})
}

// next is the sequence number a client joining now gets first.
func (h *hub) next() uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.last + 1
}

// since returns the lines from pos on (pos is the next one the client
// needs; at most batchLines of them), the position after them, and a
// channel closed when more are due: already closed if the batch did not
// reach the newest line.
func (h *hub) since(pos uint64) ([]byte, uint64, <-chan struct{}, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if pos == 0 || pos > h.last+1 {
		return nil, pos, nil, fmt.Errorf("position %d is not in the stream (newest %d)", pos, h.last)
	}
	end := min(h.last+1, pos+batchLines)
	var out []byte
	for seq := pos; seq < end; seq++ {
		out = line.Append(out, seq, h.version)
	}
	if end <= h.last {
		return out, end, closed, nil
	}
	return out, end, h.wake, nil
}

// rejoin checks the position of a client coming back: it must be in the
// stream and at most window lines back. ahead lets a position past the
// newest line in: the client comes from another process (an older
// program), whose source had got further, and the source goes on from
// there — every client of this process catches up, none skips a line.
func (h *hub) rejoin(pos uint64, ahead bool) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case pos == 0:
		return fmt.Errorf("position 0 is not in the stream")
	case pos > h.last+1 && !ahead:
		return fmt.Errorf("position %d is not in the stream (newest %d)", pos, h.last)
	case pos > h.last+1:
		h.last = pos - 1
		close(h.wake)
		h.wake = make(chan struct{})
	case h.last+1-pos > h.window:
		return fmt.Errorf("%w: %d, %d lines behind the newest %d", errTooOld, pos, h.last+1-pos, h.last)
	}
	return nil
}
