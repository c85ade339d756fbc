package proxy

import (
	"errors"
	"io"
	"os"
	"sync"
	"time"

	"github.com/migrate-run/migrate/examples/rshell/wire"
)

// An End is one side of the proxy. Its Read and Write must return
// os.ErrDeadlineExceeded once a deadline in the past is set, Write with
// the count of bytes written before (net.Conn, an *os.File in the poller).
type End interface {
	io.Reader
	io.Writer
	SetReadDeadline(time.Time) error
	SetWriteDeadline(time.Time) error
}

// Config is what a Proxy connects. It owns none of it.
type Config struct {
	// Client is the connection to rshell, speaking wire frames.
	Client End
	// PTY is the pty master.
	PTY End
	// Resize applies a window-size frame to the pty.
	Resize func(wire.Winsize) error
	// EOFChar returns the character an eof frame writes to the pty.
	EOFChar func() (byte, error)
}

// Pending is what a stopped Proxy had in hand, exactly: carry it to the
// next Start (in this process or, through a continuation, a fresh one).
type Pending struct {
	// ToClient are encoded frames not yet written to the client, from the
	// first byte it has not received.
	ToClient []byte
	// FromClient is the client's stream from the first byte not yet acted
	// upon; it may end inside a frame.
	FromClient []byte
}

// A Proxy runs the two directions of one session.
type Proxy struct {
	cfg   Config
	up    chan result
	down  chan result
	ended chan struct{}
	once  sync.Once
}

// result is how a direction ended: what it held, and err unless Stop ended
// it.
type result struct {
	held []byte
	err  error
}

// Start runs a proxy, beginning with what p holds: p.ToClient is written
// to the client first, p.FromClient acted upon before anything read.
func Start(cfg Config, p Pending) *Proxy {
	x := &Proxy{cfg: cfg, up: make(chan result, 1), down: make(chan result, 1), ended: make(chan struct{})}
	go x.run(x.up, func() result { return x.pumpUp(p.ToClient) })
	go x.run(x.down, func() result { return x.pumpDown(p.FromClient) })
	return x
}

func (x *Proxy) run(out chan<- result, pump func() result) {
	r := pump()
	if r.err != nil {
		x.once.Do(func() { close(x.ended) })
	}
	out <- r
}

// Ended is closed when a direction ended on its own: Stop then says why.
func (x *Proxy) Ended() <-chan struct{} { return x.ended }

// Stop stops both directions and returns what they held. The error joins
// why directions ended on their own (ErrClientGone, ErrPTYClosed,
// ErrProtocol); it is nil when Stop ended both. The ends' deadlines are
// cleared again. Call Stop once.
func (x *Proxy) Stop() (Pending, error) {
	past := time.Unix(1, 0)
	for _, e := range []End{x.cfg.Client, x.cfg.PTY} {
		e.SetReadDeadline(past)
		e.SetWriteDeadline(past)
	}
	up, down := <-x.up, <-x.down
	for _, e := range []End{x.cfg.Client, x.cfg.PTY} {
		e.SetReadDeadline(time.Time{})
		e.SetWriteDeadline(time.Time{})
	}
	return Pending{ToClient: up.held, FromClient: down.held}, errors.Join(up.err, down.err)
}

// stopped reports whether err is the deadline Stop set.
func stopped(err error) bool { return errors.Is(err, os.ErrDeadlineExceeded) }
