//go:build linux

// Package fakesup is a supervisor for the examples' tests: it listens on
// a SOCK_SEQPACKET socket (hand its Path to the server as MIGRATE_SOCKET),
// answers Hello, and lets the test read what the app sends and answer as it
// likes. It speaks docs/protocol.md through packages proto and fdpass, and
// keeps no state: the test plays the supervisor's part.
package fakesup

import (
	"errors"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/migrate-run/migrate/fdpass"
	"github.com/migrate-run/migrate/proto"
	"golang.org/x/sys/unix"
)

// Timeout bounds every wait of the fake.
const Timeout = 10 * time.Second

// Sup is a listening fake supervisor.
type Sup struct {
	// Path is the control socket's path, for MIGRATE_SOCKET.
	Path  string
	ln    *net.UnixListener
	conns chan *Conn
}

// Start listens in a temporary directory; everything is closed at cleanup.
func Start(t *testing.T) *Sup {
	t.Helper()
	path := filepath.Join(t.TempDir(), "sup.sock")
	ln, err := net.ListenUnix("unixpacket", &net.UnixAddr{Name: path, Net: "unixpacket"})
	if err != nil {
		t.Fatal(err)
	}
	s := &Sup{Path: path, ln: ln, conns: make(chan *Conn, 64)}
	done := make(chan struct{})
	var all []*net.UnixConn // written by the accept loop until done
	t.Cleanup(func() {
		ln.Close()
		<-done
		for _, c := range all {
			c.Close()
		}
	})
	go func() {
		defer close(done)
		for {
			c, err := ln.AcceptUnix()
			if err != nil {
				return
			}
			all = append(all, c)
			select {
			case s.conns <- &Conn{t: t, c: c, buf: make([]byte, proto.MaxMessageSize)}:
			default: // more apps than any test expects: refuse
				c.Close()
			}
		}
	}()
	return s
}

// Accept returns the next connection, after answering its Hello.
func (s *Sup) Accept(t *testing.T) *Conn {
	t.Helper()
	select {
	case c := <-s.conns:
		c.t = t
		_, id, _ := Expect[*proto.Hello](c)
		c.Send(proto.Message{ID: id, Body: &proto.HelloReply{Version: proto.Version, App: "example", DefaultExpirySec: 60}}, nil)
		return c
	case <-time.After(Timeout):
		t.Fatal("fake supervisor: no app connected")
		return nil
	}
}

// Conn is one app's control connection.
type Conn struct {
	t      *testing.T
	c      *net.UnixConn
	buf    []byte
	nextID uint64
}

// Recv returns the next message and its descriptors, which are closed at
// cleanup (the test must not close them itself).
func (c *Conn) Recv() (proto.Message, []int) {
	c.t.Helper()
	c.c.SetReadDeadline(time.Now().Add(Timeout))
	rec, fds, err := fdpass.Recv(c.c, c.buf, proto.MaxFDs, proto.DeclaredFDs)
	if err != nil {
		c.t.Fatalf("fake supervisor: receive: %v", err)
	}
	c.t.Cleanup(func() {
		for _, fd := range fds {
			unix.Close(fd)
		}
	})
	m, err := proto.Decode(rec)
	if err != nil {
		c.t.Fatalf("fake supervisor: decode: %v", err)
	}
	return m, fds
}

// Closed waits for the app to close the connection (its process ended).
func (c *Conn) Closed() {
	c.t.Helper()
	c.c.SetReadDeadline(time.Now().Add(Timeout))
	_, _, err := fdpass.Recv(c.c, c.buf, proto.MaxFDs, proto.DeclaredFDs)
	if !errors.Is(err, fdpass.ErrClosed) {
		c.t.Fatalf("fake supervisor: want the app gone, got %v", err)
	}
}

// Expect receives the next message and checks it is a T.
func Expect[T proto.Body](c *Conn) (T, uint64, []int) {
	c.t.Helper()
	m, fds := c.Recv()
	b, ok := m.Body.(T)
	if !ok {
		var want T
		c.t.Fatalf("fake supervisor got %v, want %T", m.Body.Type(), want)
	}
	return b, m.ID, fds
}

// Send writes m with fds (still the caller's).
func (c *Conn) Send(m proto.Message, fds []int) {
	c.t.Helper()
	rec, err := proto.Encode(m)
	if err != nil {
		c.t.Fatalf("fake supervisor: encode: %v", err)
	}
	if err := fdpass.Send(c.c, rec, fds); err != nil {
		c.t.Fatalf("fake supervisor: send: %v", err)
	}
}

// Request sends a supervisor request and returns its id.
func (c *Conn) Request(body proto.Body, fds []int) uint64 {
	c.t.Helper()
	c.nextID++
	id := proto.SupervisorBit | c.nextID
	c.Send(proto.Message{ID: id, Body: body}, fds)
	return id
}

// Ack answers request id with value.
func (c *Conn) Ack(id, value uint64) {
	c.t.Helper()
	c.Send(proto.Message{ID: id, Body: &proto.Ack{Value: value}}, nil)
}

// Close closes the connection.
func (c *Conn) Close() { c.c.Close() }
