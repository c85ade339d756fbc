//go:build linux

package main

import (
	"fmt"
	"sync/atomic"
	"time"
)

// defaultStatusEvery is the shortest time between two STATUS messages.
const defaultStatusEvery = 100 * time.Millisecond

// statusReporter sends STATUS=N connections served when the count changes,
// at most once per every: a change within the pause after a message is
// sent, with any that follow it, when the pause ends.
type statusReporter struct {
	every   time.Duration
	send    func(string)
	served  atomic.Int64
	changed chan struct{} // holds a token while a change is unsent
}

func newStatusReporter(every time.Duration, send func(string)) *statusReporter {
	return &statusReporter{every: every, send: send, changed: make(chan struct{}, 1)}
}

// bump counts one more connection served.
func (r *statusReporter) bump() int64 {
	n := r.served.Add(1)
	select {
	case r.changed <- struct{}{}:
	default: // a change is already waiting to be sent
	}
	return n
}

// run sends the status until stop is closed; a change made before stop is
// closed is still sent, after the pause, so the last STATUS has the final
// count.
func (r *statusReporter) run(stop <-chan struct{}) {
	pause := time.NewTimer(0)
	defer pause.Stop()
	<-pause.C
	for {
		select {
		case <-r.changed:
		default:
			select {
			case <-r.changed:
			case <-stop:
				return
			}
		}
		r.send(fmt.Sprintf("STATUS=%d connections served", r.served.Load()))
		pause.Reset(r.every)
		<-pause.C
	}
}

// petWatchdog sends WATCHDOG=1 every interval until stop is closed.
func petWatchdog(interval time.Duration, send func(string), stop <-chan struct{}) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			send("WATCHDOG=1")
		case <-stop:
			return
		}
	}
}
