//go:build linux

package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
	"golang.org/x/sys/unix"
)

// asMain makes the test binary run sdserver's main instead of the tests,
// so a test can start the server as a real process with real descriptors
// and environment.
const asMain = "SDSERVER_AS_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(asMain) == "1" {
		main()
	}
	// The netpoller opens its descriptors on first use, and keeps them.
	if ln, err := net.Listen("tcp", "127.0.0.1:0"); err == nil {
		ln.Close()
	}
	goleak.VerifyTestMain(m)
}

// wait is how long a test waits for an event before it fails.
const wait = 10 * time.Second

// notifySocket is a fake service manager's NOTIFY_SOCKET: a datagram
// socket in the test's directory.
type notifySocket struct {
	path string
	conn *net.UnixConn
}

func newNotifySocket(t *testing.T) *notifySocket {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &notifySocket{path: path, conn: conn}
}

// message is one sd_notify datagram and the descriptors it carried, which
// the test owns (closed at cleanup).
type message struct {
	text  string
	files []*os.File
}

// next returns the next datagram, failing the test after wait.
func (n *notifySocket) next(t *testing.T) message {
	t.Helper()
	m, err := n.read(time.Now().Add(wait))
	if err != nil {
		t.Fatalf("no notification: %v", err)
	}
	return m
}

// read returns the next datagram that arrives before deadline.
func (n *notifySocket) read(deadline time.Time) (message, error) {
	if err := n.conn.SetReadDeadline(deadline); err != nil {
		return message{}, err
	}
	buf, oob := make([]byte, 4096), make([]byte, unix.CmsgSpace(4*8))
	nb, noob, flags, _, err := n.conn.ReadMsgUnix(buf, oob)
	if err != nil {
		return message{}, err
	}
	m := message{text: string(buf[:nb])}
	cmsgs, err := unix.ParseSocketControlMessage(oob[:noob])
	if err != nil {
		return m, err
	}
	for _, c := range cmsgs {
		fds, err := unix.ParseUnixRights(&c)
		if err != nil {
			return m, err
		}
		for _, fd := range fds {
			m.files = append(m.files, os.NewFile(uintptr(fd), "received"))
		}
	}
	if flags&unix.MSG_CTRUNC != 0 {
		return m, errors.New("control message truncated")
	}
	return m, nil
}

// until returns the datagrams up to and including the first that starts
// with prefix.
func (n *notifySocket) until(t *testing.T, prefix string) []message {
	t.Helper()
	var got []message
	for {
		m := n.next(t)
		closeOnCleanup(t, m.files)
		got = append(got, m)
		if strings.HasPrefix(m.text, prefix) {
			return got
		}
	}
}

func closeOnCleanup(t *testing.T, files []*os.File) {
	t.Cleanup(func() { closeFiles(files) })
}

// process is sdserver's main run as a child of the test.
type process struct {
	cmd    *exec.Cmd
	stderr *lockedBuffer
	exited chan struct{}
	err    error // Wait's result, once exited is closed
}

// startProcess runs sdserver with args and files as descriptors 3 on.
// env is added to the test's environment; LISTEN_PID=self in env sets
// LISTEN_PID to the server's pid, as a service manager does after fork
// (through a shell that execs, keeping its pid). The process is killed at
// cleanup if it is still running.
func startProcess(t *testing.T, files []*os.File, env []string, args ...string) *process {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	argv := append([]string{exe}, args...)
	var rest []string
	for _, kv := range env {
		if kv == "LISTEN_PID=self" {
			argv = append([]string{"sh", "-c", `LISTEN_PID=$$ exec "$@"`, "sh"}, argv...)
			continue
		}
		rest = append(rest, kv)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	// A binary built with -race sleeps a second before it exits, unless told.
	race := "GORACE=" + strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0")
	cmd.Env = append(append(os.Environ(), asMain+"=1", race), rest...)
	cmd.ExtraFiles = files
	p := &process{cmd: cmd, stderr: &lockedBuffer{}, exited: make(chan struct{})}
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.err = cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-p.exited
	})
	return p
}

// exitCode waits for the process to end and returns its exit status.
func (p *process) exitCode(t *testing.T) int {
	t.Helper()
	select {
	case <-p.exited:
	case <-time.After(wait):
		t.Fatalf("sdserver still runs after %v\n%s", wait, p.stderr)
	}
	var ee *exec.ExitError
	if errors.As(p.err, &ee) {
		return ee.ExitCode()
	}
	if p.err != nil {
		t.Fatalf("wait for sdserver: %v", p.err)
	}
	return 0
}

func (p *process) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
}

// lockedBuffer collects a child's stderr while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// heldListener opens a TCP listener on loopback as a service manager
// holds one, and returns its address and a descriptor to pass to the
// server; the test closes it at cleanup.
func heldListener(t *testing.T) (string, *os.File) {
	t.Helper()
	ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	f, err := ln.File()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return ln.Addr().String(), f
}

// client is one connection to the server.
type client struct {
	conn net.Conn
	r    *bufio.Reader
}

func dial(t *testing.T, addr string) *client {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, wait)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if err := conn.SetDeadline(time.Now().Add(wait)); err != nil {
		t.Fatal(err)
	}
	return &client{conn: conn, r: bufio.NewReader(conn)}
}

// line reads one line, without its newline.
func (c *client) line(t *testing.T) string {
	t.Helper()
	s, err := c.r.ReadString('\n')
	if err != nil {
		t.Fatalf("read a line from the server: %v (read %q)", err, s)
	}
	return strings.TrimSuffix(s, "\n")
}

// hello reads the hello line and returns its generation and pid.
func (c *client) hello(t *testing.T) (generation uint64, pid int) {
	t.Helper()
	line := c.line(t)
	f := strings.Fields(line)
	if len(f) != 3 || f[0] != "hello" {
		t.Fatalf("first line %q, want hello GENERATION PID", line)
	}
	gen, err1 := strconv.ParseUint(f[1], 10, 64)
	pid, err2 := strconv.Atoi(f[2])
	if err1 != nil || err2 != nil {
		t.Fatalf("first line %q, want hello GENERATION PID", line)
	}
	return gen, pid
}

// inProcess is a server run by serve in the test's process, with
// NOTIFY_SOCKET set to a fake service manager's socket.
type inProcess struct {
	addr   string
	notes  *notifySocket
	cancel context.CancelFunc
	result chan error
	log    *lockedBuffer
}

// serveInProcess starts a server with cfg on a fresh loopback listener.
// It sets NOTIFY_SOCKET, so the test must not be parallel.
func serveInProcess(t *testing.T, cfg config) *inProcess {
	t.Helper()
	notes := newNotifySocket(t)
	t.Setenv("NOTIFY_SOCKET", notes.path)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &inProcess{addr: ln.Addr().String(), notes: notes, cancel: cancel, result: make(chan error, 1), log: &lockedBuffer{}}
	logf := func(format string, a ...any) { s.log.Write([]byte(prog + ": " + fmt.Sprintf(format, a...) + "\n")) }
	srv := newServer(cfg, notifier{log: logf}.send, logf)
	go func() { s.result <- srv.serve(ctx, []net.Listener{ln}) }()
	t.Cleanup(func() {
		cancel()
		s.wait(t)
	})
	return s
}

// wait returns what serve returned, failing the test after wait.
func (s *inProcess) wait(t *testing.T) error {
	t.Helper()
	select {
	case err := <-s.result:
		s.result <- err // for the next call
		return err
	case <-time.After(wait):
		t.Fatalf("serve did not return within %v\n%s", wait, s.log)
		return nil
	}
}

// pending returns the datagrams already queued on the socket: once the
// server stopped, every notification it sent.
func (n *notifySocket) pending(t *testing.T) []string {
	t.Helper()
	var texts []string
	for {
		m, err := n.read(time.Now().Add(50 * time.Millisecond))
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return texts
		}
		if err != nil {
			t.Fatal(err)
		}
		closeOnCleanup(t, m.files)
		texts = append(texts, m.text)
	}
}

// checkFDs fails the test if it ends with more descriptors open than it
// started with; call it first, so that its check runs after every other
// cleanup.
func checkFDs(t *testing.T) {
	t.Helper()
	before := openFDs(t)
	t.Cleanup(func() {
		if after := openFDs(t); after != before {
			t.Errorf("%d descriptors open after the test, %d before", after, before)
		}
	})
}

// openFDs counts this process's open descriptors.
func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// testConfig is the configuration of an in-process server in the tests.
func testConfig() config {
	return config{generation: 7, grace: defaultGrace, statusEvery: defaultStatusEvery}
}
