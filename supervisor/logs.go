package supervisor

import (
	"fmt"

	"github.com/migrate-run/migrate/proto"
)

// logsBudget bounds the lines of one logs reply (by lineCost), leaving room
// in a record of proto.MaxMessageSize for the rest of the document.
const logsBudget = proto.MaxMessageSize - 8<<10

// LogsPage is the reply of the logs admin operation (docs/protocol.md,
// "Logs").
type LogsPage struct {
	App   string    `json:"app"`
	Lines []LogLine `json:"lines"`
	// Next is the Seq to ask for next.
	Next uint64 `json:"next"`
	// More says that kept lines follow Lines right away.
	More bool `json:"more"`
	// Done says the app is done and its output has all been read: no line
	// will follow.
	Done bool `json:"done"`
}

// Logs returns the kept output lines of an app numbered since or later, as
// many as fit one admin reply. It fails with ErrUnknownApp for a name the
// supervisor does not run (a stopped app is gone) and ErrBadState for an
// app whose output is not captured.
func (s *Supervisor) Logs(name string, since uint64) (LogsPage, error) {
	s.mu.Lock()
	a := s.apps[name]
	var c *capture
	if a != nil {
		c = a.capture // renewed by a start again (renewCaptureLocked)
	}
	s.mu.Unlock()
	switch {
	case a == nil:
		return LogsPage{}, fmt.Errorf("read logs of app %s: %w", name, ErrUnknownApp)
	case c == nil:
		return LogsPage{}, fmt.Errorf("read logs of app %s: output not captured: %w", name, ErrBadState)
	}
	// done first: lines read before the readers ended are all in the ring
	done := isClosed(c.done)
	page := LogsPage{App: name, Done: done}
	page.Lines, page.More = c.ring.since(since, logsBudget)
	page.Next = since
	if n := len(page.Lines); n > 0 {
		page.Next = page.Lines[n-1].Seq + 1
	} else if next := c.ring.nextSeq(); next > since {
		page.Next = next // lines since were dropped from the ring
	}
	page.Done = done && !page.More
	return page, nil
}

func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}
