//go:build linux

package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"

	"github.com/migrate-run/migrate/examples/rshell/wire"
	"golang.org/x/sys/unix"
	"golang.org/x/term"
)

// client is one session with a server.
type client struct {
	conn   net.Conn
	stdin  *os.File
	stdout io.Writer
	stderr io.Writer

	tty   bool // stdin is a terminal, in raw mode during the session
	fd    int  // stdin's descriptor
	wmu   sync.Mutex
	wrote error // the first failed write to the server
	// killed is the signal that ended the session here, if any.
	killed atomic.Int32
}

// session runs the session and returns the exit status.
func (c *client) session(command string) int {
	c.fd = int(c.stdin.Fd()) // blocking, as a terminal's reader wants it
	c.tty = term.IsTerminal(c.fd)
	h := wire.Hello{Term: os.Getenv("TERM"), Command: command}
	if err := wire.CheckTerm(h.Term); err != nil {
		fmt.Fprintf(c.stderr, "%s: not sending TERM: %v\n", prog, err)
		h.Term = ""
	}
	var old *term.State
	if c.tty {
		h.Size = c.size()
		var err error
		if old, err = term.MakeRaw(c.fd); err != nil {
			fmt.Fprintf(c.stderr, "%s: raw mode: %v\n", prog, err)
			return exitLost
		}
	}
	c.send(wire.AppendHello(nil, h))
	stop := c.watchSignals()
	go c.forwardInput()
	code, msg := c.receive()
	stop()
	if old != nil {
		term.Restore(c.fd, old)
	}
	if msg != "" { // after raw mode, so that it starts at the left margin
		fmt.Fprintf(c.stderr, "%s: %s\n", prog, msg)
	}
	return code
}

// size is the terminal's size, or zero.
func (c *client) size() wire.Winsize {
	cols, rows, err := term.GetSize(c.fd)
	if err != nil || rows < 0 || cols < 0 || rows > 0xffff || cols > 0xffff {
		return wire.Winsize{}
	}
	return wire.Winsize{Rows: uint16(rows), Cols: uint16(cols)}
}

// send writes frames to the server, one writer at a time.
func (c *client) send(frames []byte) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.wrote != nil {
		return
	}
	if _, err := c.conn.Write(frames); err != nil {
		c.wrote = err // receive learns the end from its side
	}
}

// forwardInput sends stdin as data frames; its end, when it is not a
// terminal, as an eof frame.
func (c *client) forwardInput() {
	buf := make([]byte, 32<<10)
	for {
		n, err := c.stdin.Read(buf)
		if n > 0 {
			c.send(wire.AppendData(nil, buf[:n]))
		}
		if err != nil {
			if errors.Is(err, io.EOF) && !c.tty {
				c.send(wire.AppendEOF(nil))
			}
			return
		}
	}
}

// watchSignals sends the terminal's new size on SIGWINCH, and on SIGTERM,
// SIGHUP or SIGINT (outside raw mode) ends the session.
func (c *client) watchSignals() (stop func()) {
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, unix.SIGWINCH, unix.SIGTERM, unix.SIGHUP, unix.SIGINT)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case sig := <-sigs:
				if sig == unix.SIGWINCH {
					if c.tty {
						c.send(wire.AppendWinsize(nil, c.size()))
					}
					continue
				}
				c.killed.Store(int32(sig.(unix.Signal)))
				c.conn.Close() // receive returns
			case <-done:
				return
			}
		}
	}()
	return func() { signal.Stop(sigs); close(done) }
}

// receive writes the server's output to stdout until the exit frame, and
// returns the status to exit with and what to tell the user.
func (c *client) receive() (int, string) {
	r := wire.NewReader(c.conn)
	for {
		f, err := r.Next()
		if err != nil {
			return c.lost(err)
		}
		switch f.Type {
		case wire.TypeData:
			if _, err := c.stdout.Write(f.Payload); err != nil {
				return c.lost(fmt.Errorf("write output: %w", err))
			}
		case wire.TypeExit:
			e, err := wire.ParseExit(f.Payload)
			if err != nil {
				return c.lost(err)
			}
			if e.How == wire.Unknown || e.Message != "" {
				return e.ExitCode(), e.String()
			}
			return e.ExitCode(), ""
		default:
			return c.lost(fmt.Errorf("%w: a %v frame from the server", wire.ErrMalformed, f.Type))
		}
	}
}

// lost is the end of a session without an exit frame.
func (c *client) lost(err error) (int, string) {
	if sig := c.killed.Load(); sig != 0 {
		return 128 + int(sig), ""
	}
	return exitLost, "connection lost: " + err.Error()
}
