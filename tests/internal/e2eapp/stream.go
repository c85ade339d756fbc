//go:build linux

package main

import (
	"net"
	"strconv"
	"syscall"
	"time"

	"github.com/migrate-run/migrate"
)

// streamer writes "1\n", "2\n", ... to conn every interval; between two
// lines it answers its session's suspend requests with an internal
// continuation that stores the next number.
type streamer struct {
	conn     net.Conn
	sess     *migrate.Session
	next     uint64
	interval time.Duration
}

func (s *streamer) run() {
	var suspend <-chan *migrate.SuspendRequest
	if s.sess != nil {
		suspend = s.sess.Suspend()
	}
	tick := time.NewTicker(s.interval)
	defer tick.Stop()
	for {
		select {
		case req := <-suspend:
			if s.suspend(req) {
				return
			}
		case <-tick.C:
			if _, err := s.conn.Write([]byte(strconv.FormatUint(s.next, 10) + "\n")); err != nil {
				logf("client %s gone at %d: %v", s.conn.RemoteAddr(), s.next, err)
				s.conn.Close()
				return
			}
			s.next++
		}
	}
}

func (s *streamer) suspend(req *migrate.SuspendRequest) bool {
	at := strconv.FormatUint(s.next, 10)
	cont, err := req.Return(migrate.Continuation{
		Kind:  migrate.Internal,
		Files: []migrate.File{{Conn: s.conn.(syscall.Conn), Name: "client", Session: true}},
		Store: []migrate.Entry{{Key: "next", Value: []byte(at)}},
	})
	if err != nil {
		logf("suspend of session %d at %s failed: %v", s.sess.ID(), at, err)
		return false
	}
	logf("suspended session %d at %s (cont %d, reason %v)", s.sess.ID(), at, cont, req.Reason)
	return true
}
