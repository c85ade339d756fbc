//go:build linux

package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/migrate-run/migrate"
)

// server streams the hub to its clients, one goroutine each.
type server struct {
	ctx      context.Context
	hub      *hub
	log      func(string, ...any)
	sessions bool // a supervisor is there: register each client
	wg       sync.WaitGroup
}

// writeTimeout drops a client that stops reading: the broadcast does not
// wait for it.
const writeTimeout = 10 * time.Second

// client is one listener of the broadcast.
type client struct {
	conn net.Conn
	addr string
	pos  uint64 // the next sequence number it needs
	sess *migrate.Session
}

func newServer(ctx context.Context, h *hub, log func(string, ...any)) *server {
	return &server{ctx: ctx, hub: h, log: log}
}

// join adds a new connection to the broadcast from the next line on.
func (s *server) join(conn net.Conn) {
	c := &client{conn: conn, addr: conn.RemoteAddr().String(), pos: s.hub.next()}
	if s.sessions {
		sess, err := migrate.GetSession(s.ctx, conn.(syscall.Conn), migrate.WithName("broadcast"), migrate.WithHandler(migrate.Internal))
		if err != nil {
			s.log("client %s streams without a session: %v", c.addr, err)
		}
		c.sess = sess
	}
	s.log("client %s joined at %d", c.addr, c.pos)
	s.start(c)
}

func (s *server) start(c *client) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.stream(c)
	}()
}

// wait waits for every client's goroutine to end (after ctx ended).
func (s *server) wait() { s.wg.Wait() }

// stream writes the hub's lines to c until it goes, its session is
// suspended, or the server stops. Suspend requests are taken between two
// writes: no line is half-written.
func (s *server) stream(c *client) {
	var suspend <-chan *migrate.SuspendRequest
	if c.sess != nil {
		suspend = c.sess.Suspend()
	}
	for {
		data, next, wake, err := s.hub.since(c.pos)
		if err != nil {
			s.drop(c, err)
			return
		}
		if len(data) > 0 {
			c.conn.SetWriteDeadline(time.Now().Add(writeTimeout))
			if _, err := c.conn.Write(data); err != nil {
				s.drop(c, err)
				return
			}
			c.pos = next
		}
		select {
		case <-wake:
		case req := <-suspend:
			if s.suspend(c, req) {
				return
			}
		case <-s.ctx.Done():
			c.conn.Close()
			return
		}
	}
}

// suspend takes c out of the broadcast and hands its session over as an
// internal continuation: the connection and the position. It reports
// whether the supervisor took it.
func (s *server) suspend(c *client, req *migrate.SuspendRequest) bool {
	at := strconv.FormatUint(c.pos, 10)
	cont, err := req.Return(migrate.Continuation{
		Kind:   migrate.Internal,
		Files:  []migrate.File{{Conn: c.conn.(syscall.Conn), Name: "client", Role: migrate.RoleConn, Session: true}},
		Store:  []migrate.Entry{{Key: "pos", Value: []byte(at)}},
		Compat: compatTags(),
	})
	if err != nil {
		s.log("suspend of client %s at %s failed, streaming on: %v", c.addr, at, err)
		return false
	}
	s.log("suspended client %s at %s (cont %d)", c.addr, at, cont)
	return true
}

// attach is the attach handler: a suspended client comes back and is
// caught up from its stored position. It refuses (and the library closes
// what arrived) a continuation without a position the hub takes back (see
// hub.rejoin): one suspended by another process — an older program,
// before an upgrade — may be ahead of this process's source, which then
// goes on from there.
func (s *server) attach(a *migrate.Attached) error {
	v, _ := a.Value("pos")
	pos, err := strconv.ParseUint(string(v), 10, 64)
	if err != nil {
		return fmt.Errorf("continuation %d: bad position %q", a.Cont, v)
	}
	conn, err := a.Conn()
	if err != nil {
		return err
	}
	if err := s.hub.rejoin(pos, a.PID != os.Getpid()); err != nil {
		return fmt.Errorf("continuation %d: %w", a.Cont, err)
	}
	for _, f := range a.Files {
		if f.File != nil { // not ours to keep: only the connection matters
			f.File.Close()
		}
	}
	c := &client{conn: conn, addr: conn.RemoteAddr().String(), pos: pos, sess: a.Session}
	s.log("resumed cont %d from old pid %d at %d", a.Cont, a.PID, pos)
	s.start(c)
	return nil
}

// drop ends a client that went away, and its session.
func (s *server) drop(c *client, err error) {
	s.log("client %s gone at %d: %v", c.addr, c.pos, err)
	c.conn.Close()
	if c.sess == nil {
		return
	}
	ctx, cancel := context.WithTimeout(s.ctx, 5*time.Second)
	defer cancel()
	if err := c.sess.Close(ctx); err != nil {
		s.log("close session of client %s: %v", c.addr, err)
	}
}
