//go:build linux

package main

import (
	"context"
	"io"
	"net"
	"os"
	"syscall"
	"time"

	"github.com/migrate-run/migrate"
	"github.com/migrate-run/migrate/examples/rshell/proxy"
	"github.com/migrate-run/migrate/examples/rshell/wire"
)

// serveOrListen serves the connection passed inetd style, or listens.
func serveOrListen(args []string, stderr io.Writer, log func(string, ...any)) int {
	o, ok := parseFlags(prog, args, stderr, true)
	if !ok {
		return 2
	}
	if !passedConn() {
		return listen(o, log)
	}
	conn, err := takeConn()
	if err != nil {
		log("%v", err)
		return 1
	}
	return serveFresh(o, conn, log)
}

// serveChild is a listener's child: the connection on descriptor 3.
func serveChild(args []string, stderr io.Writer, log func(string, ...any)) int {
	o, ok := parseFlags(prog+" "+serveCmd, args, stderr, false)
	if !ok {
		return 2
	}
	conn, err := takeConn()
	if err != nil {
		log("%v", err)
		return 1
	}
	return serveFresh(o, conn, log)
}

// serveFresh starts a session on conn: the client's hello, the shell, the
// session's registration with the supervisor if there is one.
func serveFresh(o options, conn net.Conn, log func(string, ...any)) int {
	peer := conn.RemoteAddr().String()
	h, rest, err := readHello(conn)
	if err != nil {
		log("client %s: %v", peer, err)
		refuse(conn, err)
		return 1
	}
	sh, err := startShell(o, h, peer)
	if err != nil {
		log("client %s: %v", peer, err)
		refuse(conn, err)
		return 1
	}
	s := &server{log: log, conn: conn, stdio: stdioOf(conn.(syscall.Conn)), pty: sh.pty, status: sh.status, parent: true, st: state{
		Format: stateFormat, Shell: sh.pid, Waiter: sh.waiter, PTY: fdOf(sh.pty), PTS: sh.pts, Status: fdOf(sh.status),
		Peer: peer, Term: h.Term, Started: time.Now(),
	}}
	log("pid %d serving %s: shell %d on /dev/pts/%d (TERM=%s, %dx%d)", os.Getpid(), peer, sh.pid, sh.pts, h.Term, h.Size.Rows, h.Size.Cols)
	s.register(log)
	return s.run(proxy.Pending{FromClient: rest}, sh.read)
}

// register makes the connection a session with a complete continuation,
// when a supervisor is there.
func (s *server) register(log func(string, ...any)) {
	if !migrate.Available() {
		return
	}
	ctx := context.Background()
	registerCompat(ctx, log)
	sess, err := migrate.GetSession(ctx, s.conn.(syscall.Conn), migrate.WithName("rshell "+s.st.Peer), migrate.WithHandler(migrate.Complete))
	if err != nil {
		log("serving without a session: %v", err)
		return
	}
	s.sess = sess
}

// refuse tells a client its session did not start.
func refuse(conn net.Conn, err error) {
	conn.SetWriteDeadline(time.Now().Add(lastWriteTimeout))
	conn.Write(wire.AppendExit(nil, wire.Exit{How: wire.Unknown, Message: err.Error()}))
	conn.Close()
}
