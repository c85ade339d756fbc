//go:build linux

package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"

	"github.com/migrate-run/migrate"
	"github.com/migrate-run/migrate/examples/rshell/proxy"
	"github.com/migrate-run/migrate/examples/rshell/pty"
	"github.com/migrate-run/migrate/examples/rshell/wire"
	"golang.org/x/sys/unix"
)

// server is one session in one process: the first of the session or one
// resumed from its continuation.
type server struct {
	log    func(string, ...any)
	conn   net.Conn
	stdio  []*os.File // descriptors 0 and 1 when they are conn (inetd style)
	pty    *os.File   // the pty master
	status *os.File   // the status pipe's read end
	sess   *migrate.Session
	st     state
	// parent says whether the waiter is this process's child, to reap.
	parent bool
}

// run serves the session until it ends here: the shell ended, the client
// left, the server was told to stop, or the session was suspended.
// pending and statusRead are what the previous server held.
func (s *server) run(pending proxy.Pending, statusRead []byte) int {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, unix.SIGTERM, unix.SIGINT, unix.SIGHUP)
	defer signal.Stop(sigs)
	var suspend <-chan *migrate.SuspendRequest
	if s.sess != nil {
		suspend = s.sess.Suspend()
	}
	for {
		px := proxy.Start(s.proxyConfig(), pending)
		w := watchStatus(s.status, statusRead)
		select {
		case req := <-suspend:
			p, err := px.Stop()
			wd := w.stop()
			if err != nil || wd.ended {
				req.Refuse(errEnding)
				return s.endStopped(p, err, wd)
			}
			if s.suspend(req, p, wd.read) {
				return 0
			}
			pending, statusRead = p, wd.read // serve on
		case <-px.Ended():
			p, err := px.Stop()
			return s.end(p, err, w)
		case wd := <-w.done:
			p, _ := px.Stop()
			return s.finish(p, wd)
		case sig := <-sigs:
			p, _ := px.Stop()
			return s.hangup(p, w, fmt.Sprintf("the server was stopped (%v)", sig), true)
		}
	}
}

func (s *server) proxyConfig() proxy.Config {
	return proxy.Config{
		Client:  s.conn,
		PTY:     s.pty,
		Resize:  func(ws wire.Winsize) error { return pty.SetSize(s.pty, ws.Rows, ws.Cols) },
		EOFChar: func() (byte, error) { return pty.EOFChar(s.pty) },
	}
}

// errEnding refuses a suspend request that comes as the session ends.
var errEnding = errors.New("the session is ending")

// endStopped ends the session after a suspend request stopped the proxy
// and the status watch, and found one of them ended.
func (s *server) endStopped(p proxy.Pending, err error, wd watched) int {
	if wd.ended {
		return s.finish(p, wd)
	}
	return s.end(p, err, watchStatus(s.status, wd.read))
}

// end ends the session after the proxy ended on its own with err; w
// still watches the status pipe.
func (s *server) end(p proxy.Pending, err error, w *watch) int {
	switch {
	case errors.Is(err, proxy.ErrClientGone):
		return s.hangup(p, w, err.Error(), false)
	case errors.Is(err, proxy.ErrProtocol):
		return s.hangup(p, w, err.Error(), true)
	}
	// The pty closed: the shell and its jobs are gone, the status is on
	// its way.
	return s.finish(p, w.wait(hangupWait))
}

// peer is the client's address, for the logs.
func (s *server) peer() string { return s.st.Peer }
