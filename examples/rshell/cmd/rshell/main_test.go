//go:build linux

package main

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/migrate-run/migrate/examples/rshell/pty"
	"github.com/migrate-run/migrate/examples/rshell/wire"
	"go.uber.org/goleak"
	"golang.org/x/sys/unix"
)

// asMain makes the test binary run rshell's main, so the client is a real
// process with a terminal of its own.
const asMain = "RSHELL_AS_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(asMain) == "1" {
		os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
	}
	// The netpoller opens its descriptors on first use, and keeps them.
	if ln, err := net.Listen("tcp", "127.0.0.1:0"); err == nil {
		ln.Close()
	}
	before := openFDs()
	code := m.Run()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "leaked goroutines:", err)
			code = 1
		} else if after := openFDs(); after != before {
			fmt.Fprintf(os.Stderr, "%d descriptors open after the tests, %d before\n", after, before)
			code = 1
		}
	}
	os.Exit(code)
}

func openFDs() int {
	ents, _ := os.ReadDir("/proc/self/fd")
	return len(ents)
}

const timeout = 20 * time.Second

// fakeServer accepts one rshell and plays rshell-server's part.
type fakeServer struct {
	t    *testing.T
	ln   net.Listener
	conn net.Conn
	r    *wire.Reader
}

func newFakeServer(t *testing.T) *fakeServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return &fakeServer{t: t, ln: ln}
}

func (s *fakeServer) addr() string { return s.ln.Addr().String() }

// accept takes the client's connection and returns its hello.
func (s *fakeServer) accept() wire.Hello {
	s.t.Helper()
	s.ln.(*net.TCPListener).SetDeadline(time.Now().Add(timeout))
	conn, err := s.ln.Accept()
	if err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(timeout))
	s.conn, s.r = conn, wire.NewReader(conn)
	f := s.next(wire.TypeHello)
	h, err := wire.ParseHello(f.Payload)
	if err != nil {
		s.t.Fatal(err)
	}
	return h
}

// next returns the client's next frame, which must be of type t.
func (s *fakeServer) next(t wire.Type) wire.Frame {
	s.t.Helper()
	f, err := s.r.Next()
	if err != nil || f.Type != t {
		s.t.Fatalf("from the client: %v frame %q, %v; want %v", f.Type, f.Payload, err, t)
	}
	return f
}

func (s *fakeServer) send(frames []byte) {
	s.t.Helper()
	if _, err := s.conn.Write(frames); err != nil {
		s.t.Fatal(err)
	}
}

// rshell returns a command running rshell with args.
func rshell(t *testing.T, args ...string) *exec.Cmd {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, args...)
	cmd.Env = []string{asMain + "=1", "TERM=xterm-test"}
	return cmd
}

// waitExit waits for cmd and returns its exit status.
func waitExit(t *testing.T, cmd *exec.Cmd) int {
	t.Helper()
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	select {
	case <-done:
		return cmd.ProcessState.ExitCode()
	case <-time.After(timeout):
		cmd.Process.Kill()
		<-done
		t.Fatal("rshell did not exit")
		return -1
	}
}

func termios(t *testing.T, f *os.File) *unix.Termios {
	t.Helper()
	rc, _ := f.SyscallConn()
	var tio *unix.Termios
	var err error
	rc.Control(func(fd uintptr) { tio, err = unix.IoctlGetTermios(int(fd), unix.TCGETS) })
	if err != nil {
		t.Fatal(err)
	}
	return tio
}

// TestOnATerminal runs rshell on a pty: it sends TERM and the size, puts
// the terminal in raw mode (a key goes at once, unechoed), sends the new
// size on SIGWINCH, shows the output, exits with the shell's status and
// leaves the terminal as it found it.
func TestOnATerminal(t *testing.T) {
	s := newFakeServer(t)
	master, slave, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer master.Close()
	defer slave.Close()
	pty.SetSize(master, 33, 77)
	before := termios(t, slave)
	cmd := rshell(t, "--addr", s.addr())
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if h := s.accept(); h != (wire.Hello{Term: "xterm-test", Size: wire.Winsize{Rows: 33, Cols: 77}}) {
		t.Errorf("hello %+v, want TERM and 33x77", h)
	}
	if raw := termios(t, slave); raw.Lflag&(unix.ICANON|unix.ECHO|unix.ISIG) != 0 {
		t.Errorf("local modes %#x during the session, want no ICANON, ECHO or ISIG", raw.Lflag)
	}
	master.WriteString("a\x03") // a key and ^C, no newline
	if f := s.next(wire.TypeData); string(f.Payload) != "a\x03" {
		t.Errorf("keys sent as %q, want a and ^C as typed", f.Payload)
	}
	pty.SetSize(master, 40, 100)
	if ws, _ := wire.ParseWinsize(s.next(wire.TypeWinsize).Payload); ws != (wire.Winsize{Rows: 40, Cols: 100}) {
		t.Errorf("window size %+v, want 40x100", ws)
	}
	s.send(wire.AppendExit(wire.AppendData(nil, []byte("hello\r\n")), wire.Exit{How: wire.Exited, Code: 3}))
	if code := waitExit(t, cmd); code != 3 {
		t.Errorf("exit %d, want the shell's 3", code)
	}
	master.SetReadDeadline(time.Now().Add(timeout))
	out := make([]byte, 100)
	n, _ := master.Read(out)
	if string(out[:n]) != "hello\r\n" {
		t.Errorf("the terminal shows %q, want hello (and no echo of the keys)", out[:n])
	}
	if after := termios(t, slave); after.Lflag != before.Lflag || after.Iflag != before.Iflag || after.Oflag != before.Oflag {
		t.Errorf("modes after the session %+v, want them restored to %+v", after, before)
	}
}

// TestPipedInputAndACommand gives rshell a command and piped input: the
// hello carries the command and no size, the input goes as data and its
// end as an eof frame, and a shell killed by a signal makes 128+N.
func TestPipedInputAndACommand(t *testing.T) {
	s := newFakeServer(t)
	cmd := rshell(t, "--addr", s.addr(), "cat", "-n")
	cmd.Stdin = strings.NewReader("line\n")
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if h := s.accept(); h != (wire.Hello{Term: "xterm-test", Command: "cat -n"}) {
		t.Errorf("hello %+v, want the command and no size", h)
	}
	if f := s.next(wire.TypeData); string(f.Payload) != "line\n" {
		t.Errorf("input sent as %q", f.Payload)
	}
	s.next(wire.TypeEOF)
	s.send(wire.AppendExit(wire.AppendData(nil, []byte("     1\tline\r\n")), wire.Exit{How: wire.Signaled, Code: 9}))
	if code := waitExit(t, cmd); code != 137 || stdout.String() != "     1\tline\r\n" {
		t.Errorf("exit %d, output %q; want 137 after cat's line", code, stdout.String())
	}
}

func TestEndsWithoutAStatus(t *testing.T) {
	for _, c := range []struct {
		name   string
		server []byte // sent after the hello; then the connection closes
		says   string
	}{
		{"connection closed", nil, "rshell: connection lost: EOF\n"},
		{"unknown status", wire.AppendExit(nil, wire.Exit{How: wire.Unknown, Message: "no shell"}), "rshell: exit status unknown: no shell\n"},
		{"unknown frame", []byte{9, 0, 0, 0, 0}, "rshell: connection lost: decode frame: unknown frame type: 9\n"},
		{"frame cut short", wire.AppendData(nil, []byte("abc"))[:6], "rshell: connection lost: read frame: unexpected EOF: 6 bytes of a frame\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := newFakeServer(t)
			cmd := rshell(t, "--addr", s.addr())
			var stderr bytes.Buffer
			cmd.Stdin, cmd.Stderr = strings.NewReader(""), &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			s.accept()
			s.conn.Write(c.server)
			s.conn.Close()
			if code := waitExit(t, cmd); code != 255 || stderr.String() != c.says {
				t.Errorf("exit %d, stderr %q; want 255 and %q", code, stderr.String(), c.says)
			}
		})
	}
}

func TestUsageAndUnreachableServer(t *testing.T) {
	cmd := rshell(t)
	if out, _ := cmd.CombinedOutput(); cmd.ProcessState.ExitCode() != 2 || !strings.Contains(string(out), "--addr is required") {
		t.Errorf("without --addr: exit %d, %q; want 2 and a usage", cmd.ProcessState.ExitCode(), out)
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close() // nobody listens there now
	cmd = rshell(t, "--addr", addr)
	if out, _ := cmd.CombinedOutput(); cmd.ProcessState.ExitCode() != 255 || !strings.Contains(string(out), "connection refused") {
		t.Errorf("a closed port: exit %d, %q; want 255 and connection refused", cmd.ProcessState.ExitCode(), out)
	}
}
