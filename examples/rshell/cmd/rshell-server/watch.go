//go:build linux

package main

import (
	"errors"
	"os"
	"time"
)

// A watch reads the status pipe until its end, the waiter's exit, in a
// goroutine; stop interrupts it with what it read so far, which the
// continuation carries.
type watch struct {
	f    *os.File
	done chan watched
}

// watched is what a watch read, and whether the pipe reached its end.
type watched struct {
	read  []byte
	ended bool
}

// watchStatus starts reading f, after read (what an earlier watch read).
func watchStatus(f *os.File, read []byte) *watch {
	w := &watch{f: f, done: make(chan watched, 1)}
	go func() {
		got := append([]byte(nil), read...)
		buf := make([]byte, 512)
		for {
			n, err := f.Read(buf)
			got = append(got, buf[:n]...)
			if err != nil {
				// Anything but the deadline of stop (io.EOF, or the pipe
				// broke) ends the waiter's reports.
				w.done <- watched{read: got, ended: !errors.Is(err, os.ErrDeadlineExceeded)}
				return
			}
		}
	}()
	return w
}

// stop interrupts the watch and returns what it read. Call it once, and
// only when done has not been received from.
func (w *watch) stop() watched {
	w.f.SetReadDeadline(time.Unix(1, 0))
	r := <-w.done
	w.f.SetReadDeadline(time.Time{})
	return r
}

// wait waits up to d for the pipe's end; after d it stops the watch.
func (w *watch) wait(d time.Duration) watched {
	select {
	case r := <-w.done:
		return r
	case <-time.After(d):
		return w.stop()
	}
}
