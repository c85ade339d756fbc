//go:build linux

package main

import (
	"context"
	"os"
	"time"

	"github.com/migrate-run/migrate/examples/rshell/proxy"
	"github.com/migrate-run/migrate/examples/rshell/wire"
	"golang.org/x/sys/unix"
)

const (
	// hangupWait bounds the wait for the shell's status once its end is
	// near: the pty closed, or the server hung it up.
	hangupWait = 10 * time.Second
	// lastWriteTimeout bounds the last write to the client.
	lastWriteTimeout = 10 * time.Second
	// closeTimeout bounds telling the supervisor the session ended.
	closeTimeout = 5 * time.Second
	// maxDrain bounds what is read from the pty after the shell ended (a
	// background job may write on).
	maxDrain = 1 << 20
)

// finish ends a session whose shell ended: the client gets the output
// still held and still in the pty, then the exit frame.
func (s *server) finish(p proxy.Pending, wd watched) int {
	exit := s.exit(wd, "")
	out := append(p.ToClient, wire.AppendData(nil, drain(s.pty))...)
	s.conn.SetWriteDeadline(time.Now().Add(lastWriteTimeout))
	if _, err := s.conn.Write(wire.AppendExit(out, exit)); err != nil {
		s.log("session of %s ended: %v (not told: %v)", s.peer(), exit, err)
	} else {
		s.log("session of %s ended: %v", s.peer(), exit)
	}
	s.close(wd.ended)
	return 0
}

// hangup ends a session whose shell still runs: closing the master hangs
// the terminal up (SIGHUP to the shell), and the shell's status is
// awaited. tell says whether the client gets the output held and an exit
// frame saying why.
func (s *server) hangup(p proxy.Pending, w *watch, why string, tell bool) int {
	s.pty.Close()
	wd := w.wait(hangupWait)
	exit := s.exit(wd, why)
	s.log("session of %s ended: %s; the shell: %v", s.peer(), why, s.exit(wd, ""))
	if tell {
		s.conn.SetWriteDeadline(time.Now().Add(lastWriteTimeout))
		s.conn.Write(wire.AppendExit(p.ToClient, exit))
	}
	s.close(wd.ended)
	return 0
}

// exit is how the shell ended as the status pipe said, with why as its
// message.
func (s *server) exit(wd watched, why string) wire.Exit {
	e := wire.Exit{How: wire.Unknown, Message: "the shell's status did not come"}
	if wd.ended {
		e = exitOf(wd.read)
	}
	if why != "" {
		e.Message = why
	}
	return e
}

// close releases the session: its descriptors, its registration with the
// supervisor, and the waiter if it is this process's child and done.
func (s *server) close(waiterDone bool) {
	for _, f := range s.stdio {
		f.Close()
	}
	s.conn.Close()
	s.pty.Close()
	s.status.Close()
	if s.sess != nil {
		ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
		defer cancel()
		if err := s.sess.Close(ctx); err != nil {
			s.log("close session: %v", err)
		}
	}
	if s.parent && waiterDone {
		unix.Wait4(s.st.Waiter, nil, 0, nil) // it closed the pipe by exiting
	}
}

// drain reads what the pty master holds without waiting: the shell's last
// output, which it wrote before it exited.
func drain(f *os.File) []byte {
	rc, err := f.SyscallConn()
	if err != nil {
		return nil
	}
	var out []byte
	buf := make([]byte, 32<<10)
	rc.Read(func(fd uintptr) bool {
		for len(out) < maxDrain {
			n, err := unix.Read(int(fd), buf)
			if n <= 0 || err != nil {
				break
			}
			out = append(out, buf[:n]...)
		}
		return true // done: never wait in the poller
	})
	return out
}
