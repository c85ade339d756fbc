//go:build linux

package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"
)

// payload is what every line carries after its sequence number.
const payload = "tick"

// errTooOld is returned for a position the history no longer holds.
var errTooOld = errors.New("position no longer in the history")

// hub is the ticking source and the history of its lines.
type hub struct {
	mu      sync.Mutex
	last    uint64   // sequence number of the newest line; 0 before the first
	history [][]byte // the newest len(history) lines, oldest first
	max     int
	wake    chan struct{} // closed when a line is added
}

func newHub(max int) *hub {
	return &hub{max: max, wake: make(chan struct{})}
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
	line := strconv.AppendUint(nil, h.last, 10)
	line = append(append(append(line, ' '), payload...), '\n')
	if len(h.history) == h.max {
		h.history = h.history[1:]
	}
	h.history = append(h.history, line)
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
// needs), the position after them, and a channel closed when more come.
func (h *hub) since(pos uint64) ([]byte, uint64, <-chan struct{}, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	oldest := h.last + 1 - uint64(len(h.history))
	switch {
	case pos == 0 || pos > h.last+1:
		return nil, pos, nil, fmt.Errorf("position %d is not in the stream (newest %d)", pos, h.last)
	case pos < oldest:
		return nil, pos, nil, fmt.Errorf("%w: %d, oldest %d", errTooOld, pos, oldest)
	}
	var out []byte
	for _, line := range h.history[pos-oldest:] {
		out = append(out, line...)
	}
	return out, h.last + 1, h.wake, nil
}
