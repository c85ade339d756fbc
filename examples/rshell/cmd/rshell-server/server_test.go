//go:build linux

package main

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/migrate-run/migrate/examples/rshell/wire"
)

var shArgs = []string{"--shell", "/bin/sh", "--login=false"}

// TestAShellOnAPTYPerClient connects to the listener: a process of its
// own serves the client with a shell on a pty of the client's size and
// TERM; a window-size frame resizes it; the shell holds nothing but its
// terminal, the waiter neither the terminal nor the connection; the
// shell's exit status ends the session.
func TestAShellOnAPTYPerClient(t *testing.T) {
	s := startListener(t, shArgs...)
	c := dial(t, s.addr, wire.Hello{Term: "vt100", Size: wire.Winsize{Rows: 24, Cols: 80}})
	pid, shell := s.serving()
	if pid == s.cmd.Process.Pid {
		t.Error("the listener serves the client itself")
	}
	c.typeLine("stty size; echo TERM=$TERM; tty")
	c.expect("24 80\r\nTERM=vt100\r\n/dev/pts/")
	c.send(wire.AppendWinsize(nil, wire.Winsize{Rows: 33, Cols: 101}))
	c.typeLine("stty size")
	c.expect("33 101\r\n")

	pts := fds(t, shell)[0]
	for n, what := range fds(t, shell) {
		// The shell may open /dev/tty, its terminal, for job control.
		if n <= 2 && what != pts || n > 2 && what != "/dev/tty" || !strings.HasPrefix(pts, "/dev/pts/") {
			t.Errorf("the shell has descriptor %d on %s; want only its terminal", n, what)
		}
	}
	waiter := parent(t, shell)
	for n, what := range fds(t, waiter) {
		if strings.HasPrefix(what, "/dev/pts/") || strings.HasPrefix(what, "socket:") {
			t.Errorf("the waiter %d holds %s on %d", waiter, what, n)
		}
	}

	c.typeLine("printf 'last words'; exit 3")
	if e, out := c.exit(); e != (wire.Exit{How: wire.Exited, Code: 3}) || !strings.HasSuffix(out, "last words") {
		t.Errorf("exit %+v after %q; want status 3 after the last words", e, out)
	}
	s.expect(`^rshell-server: session of \S+ ended: exit status 3$`)
	gone(t, pid)
	gone(t, waiter)
}

// parent returns the parent pid of pid.
func parent(t *testing.T, pid int) int {
	t.Helper()
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
	ppid, _ := strconv.Atoi(f[1])
	return ppid
}

func TestACommandAndItsStatus(t *testing.T) {
	s := startListener(t, shArgs...)
	for _, c := range []struct {
		command string
		want    wire.Exit
		out     string
	}{
		{"echo one; echo two", wire.Exit{How: wire.Exited}, "one\r\ntwo\r\n"},
		{"kill -9 $$", wire.Exit{How: wire.Signaled, Code: 9}, ""},
		{"exit 255", wire.Exit{How: wire.Exited, Code: 255}, ""},
	} {
		cl := dial(t, s.addr, wire.Hello{Command: c.command})
		s.serving()
		if e, out := cl.exit(); e != c.want || out != c.out {
			t.Errorf("%s: %+v after %q; want %+v after %q", c.command, e, out, c.want, c.out)
		}
		s.expect(`^rshell-server: session of \S+ ended: `)
	}
}

// TestEOFEndsTheShellsInput sends an eof frame: the shell reads the end
// of its input and exits.
func TestEOFEndsTheShellsInput(t *testing.T) {
	s := startListener(t, shArgs...)
	c := dial(t, s.addr, wire.Hello{})
	s.serving()
	c.typeLine("echo READY")
	c.expect("READY\r\n")
	c.send(wire.AppendEOF(nil))
	if e, _ := c.exit(); e != (wire.Exit{How: wire.Exited}) {
		t.Errorf("exit %+v, want status 0", e)
	}
}

// TestClientGoneHangsUpTheShell closes the connection: the server hangs
// the terminal up, the shell dies of SIGHUP, the server says so and ends.
func TestClientGoneHangsUpTheShell(t *testing.T) {
	s := startListener(t, shArgs...)
	c := dial(t, s.addr, wire.Hello{})
	pid, shell := s.serving()
	c.typeLine("echo READY")
	c.expect("READY\r\n")
	c.conn.Close() // a FIN, or a RST when the shell's prompt was still unread: both are the client leaving
	s.expect(`^rshell-server: session of \S+ ended: read the client: client gone: (EOF|read tcp \S+: read: connection reset by peer); the shell: killed by signal 1$`)
	gone(t, shell)
	gone(t, pid)
}

// TestStoppedServerTellsTheClient sends SIGTERM to a per-connection
// server: it hangs the shell up and tells the client why.
func TestStoppedServerTellsTheClient(t *testing.T) {
	s := startListener(t, shArgs...)
	c := dial(t, s.addr, wire.Hello{})
	pid, _ := s.serving()
	c.typeLine("echo READY")
	c.expect("READY\r\n")
	syscall.Kill(pid, syscall.SIGTERM)
	want := wire.Exit{How: wire.Signaled, Code: 1, Message: "the server was stopped (terminated)"}
	if e, _ := c.exit(); e != want {
		t.Errorf("exit %+v, want %+v", e, want)
	}
	s.expect(`^rshell-server: session of \S+ ended: the server was stopped \(terminated\); the shell: killed by signal 1$`)
}

func TestBadClientsAreRefused(t *testing.T) {
	s := startListener(t, shArgs...)
	for _, c := range []struct {
		name, msg string
		frames    []byte
	}{
		{"data before hello", "the first frame is data", wire.AppendData(nil, []byte("ls\n"))},
		{"hello of version 2", "version 2", wire.AppendFrame(nil, wire.TypeHello, []byte{2, 0, 0, 0, 0, 0})},
		{"bad TERM", "TERM", wire.AppendFrame(nil, wire.TypeHello, []byte{1, 0, 0, 0, 0, 2, '$', '('})},
		{"unknown frame", "unknown frame type", []byte{9, 0, 0, 0, 0}},
	} {
		conn, err := net.Dial("tcp", s.addr)
		if err != nil {
			t.Fatal(err)
		}
		cl := &client{t: t, conn: conn, r: wire.NewReader(conn)}
		cl.send(c.frames)
		if e, _ := cl.exit(); e.How != wire.Unknown || !strings.Contains(e.Message, c.msg) {
			t.Errorf("%s: %+v, want an unknown status saying %q", c.name, e, c.msg)
		}
		conn.Close()
		s.expect(`^rshell-server: client \S+: `)
	}
	// A broken frame after a good start ends the session, hangs the
	// shell up and says why.
	cl := dial(t, s.addr, wire.Hello{})
	_, shell := s.serving()
	cl.send([]byte{9, 0, 0, 0, 0})
	if e, _ := cl.exit(); e.How != wire.Signaled || !strings.Contains(e.Message, "client broke the protocol") {
		t.Errorf("a broken frame: %+v, want the hung-up shell's status and why", e)
	}
	gone(t, shell)
}

// TestAShellThatCannotStart names a shell the kernel cannot execute: the
// client hears why.
func TestAShellThatCannotStart(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "badsh")
	if err := os.WriteFile(bad, []byte("\x7fELF not really"), 0o755); err != nil {
		t.Fatal(err)
	}
	s := startListener(t, "--shell", bad)
	c := dial(t, s.addr, wire.Hello{})
	if e, _ := c.exit(); e.How != wire.Unknown || !strings.Contains(e.Message, "exec format error") {
		t.Errorf("%+v, want an unknown status saying exec format error", e)
	}
	s.expect(`^rshell-server: client \S+: start shell .*exec format error`)
}

// TestInetdStyle passes the connection as migrate-run --accept does: on 0,
// 1 and 3, LISTEN_FDS=1 for the server's pid.
func TestInetdStyle(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	dialed := make(chan net.Conn, 1)
	go func() {
		c, _ := net.Dial("tcp", ln.Addr().String())
		dialed <- c
	}()
	accepted, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	f, err := accepted.(*net.TCPConn).File()
	accepted.Close()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	conn := <-dialed
	defer conn.Close()

	// systemd sets LISTEN_PID to the service's pid after fork; a shell
	// that execs keeps its pid, $$.
	s := startServer(t, []*os.File{f}, nil, "sh", "-c", `LISTEN_PID=$$ LISTEN_FDS=1 LISTEN_FDNAMES=connection exec "$EXE" --shell /bin/sh --login=false <&3 >&3`)
	f.Close()
	c := &client{t: t, conn: conn, r: wire.NewReader(conn)}
	c.send(wire.AppendHello(nil, wire.Hello{Command: "echo $((6*7)); echo ${LISTEN_FDS-unset}"}))
	pid, _ := s.serving()
	if e, out := c.exit(); e != (wire.Exit{How: wire.Exited}) || out != "42\r\nunset\r\n" {
		t.Errorf("%+v after %q; want status 0 after 42 and no LISTEN_FDS", e, out)
	}
	if pid != s.cmd.Process.Pid {
		t.Errorf("served by pid %d, want the started process %d", pid, s.cmd.Process.Pid)
	}
}
