//go:build linux

package main

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/migrate-run/migrate/examples/rshell/wire"
	"go.uber.org/goleak"
)

// asMain makes the test binary run rshell-server's main instead of the
// tests, so the server, its children and the waiters (all re-executed
// through os.Executable) are real processes.
const asMain = "RSHELL_SERVER_AS_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(asMain) == "1" {
		os.Exit(run(os.Args[1:], os.Stderr))
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

// timeout bounds every wait of the tests.
const timeout = 20 * time.Second

// testServer is a running rshell-server and the lines of its stderr (its
// children's and waiters' too).
type testServer struct {
	t     *testing.T
	cmd   *exec.Cmd
	lines chan string
	addr  string
}

// startServer runs rshell-server with args, files on descriptors 3 on and
// env added, without a supervisor. Args starting with "sh" run a shell
// wrapper that finds the server as $EXE. It stops it at cleanup and waits
// until every process that writes its stderr is gone.
func startServer(t *testing.T, files []*os.File, env []string, args ...string) *testServer {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if len(args) == 0 || args[0] != "sh" {
		args = append([]string{exe}, args...)
	}
	s := &testServer{t: t, cmd: exec.Command(args[0], args[1:]...), lines: make(chan string, 100)}
	// A process of a -race build sleeps a second at exit unless told not to.
	s.cmd.Env = append(append(os.Environ(), asMain+"=1", "EXE="+exe, "MIGRATE_SOCKET=", "GORACE=atexit_sleep_ms=0"), env...)
	s.cmd.ExtraFiles = files
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stderr, err := s.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(s.lines)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			s.lines <- sc.Text()
		}
	}()
	t.Cleanup(func() {
		s.cmd.Process.Signal(syscall.SIGTERM)
		for range s.lines { // until every writer (children, waiters) is gone
		}
		wg.Wait()
		s.cmd.Wait()
	})
	return s
}

// startListener starts a listening server on a loopback port.
func startListener(t *testing.T, args ...string) *testServer {
	t.Helper()
	s := startServer(t, nil, nil, append([]string{"--addr", "127.0.0.1:0"}, args...)...)
	s.addr = s.expect(`^rshell-server: listening on (\S+)$`)[1]
	return s
}

// expect returns the submatches of the next stderr line, which must match
// pattern.
func (s *testServer) expect(pattern string) []string {
	s.t.Helper()
	re := regexp.MustCompile(pattern)
	select {
	case line, ok := <-s.lines:
		if !ok {
			s.t.Fatalf("the server ended before a line matching %q", pattern)
		}
		m := re.FindStringSubmatch(line)
		if m == nil {
			s.t.Fatalf("the server said %q, want a line matching %q", line, pattern)
		}
		return m
	case <-time.After(timeout):
		s.t.Fatalf("the server did not say %q", pattern)
		return nil
	}
}

// serving waits for a per-connection server's first line and returns its
// pid and its shell's.
func (s *testServer) serving() (pid, shell int) {
	s.t.Helper()
	m := s.expect(`^rshell-server: pid (\d+) serving \S+: shell (\d+) on /dev/pts/\d+ \(TERM=.*, \d+x\d+\)$`)
	pid, _ = strconv.Atoi(m[1])
	shell, _ = strconv.Atoi(m[2])
	s.t.Cleanup(func() { syscall.Kill(shell, syscall.SIGKILL) }) // if the test failed to end it
	return pid, shell
}

// client speaks rshell's protocol to a server, as the test.
type client struct {
	t    *testing.T
	conn net.Conn
	r    *wire.Reader
	out  []byte // data received, not consumed by expect
}

func dial(t *testing.T, addr string, h wire.Hello) *client {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	c := &client{t: t, conn: conn, r: wire.NewReader(conn)}
	c.send(wire.AppendHello(nil, h))
	return c
}

func (c *client) send(frames []byte) {
	c.t.Helper()
	if _, err := c.conn.Write(frames); err != nil {
		c.t.Fatal(err)
	}
}

// typeLine sends s and a newline as a data frame.
func (c *client) typeLine(s string) { c.send(wire.AppendData(nil, []byte(s+"\n"))) }

// expect reads until the output contains s, and consumes it.
func (c *client) expect(s string) {
	c.t.Helper()
	c.conn.SetReadDeadline(time.Now().Add(timeout))
	for !bytes.Contains(c.out, []byte(s)) {
		f, err := c.r.Next()
		if err != nil || f.Type != wire.TypeData {
			c.t.Fatalf("waiting for %q: %v frame, %v; output %q", s, f.Type, err, c.out)
		}
		c.out = append(c.out, f.Payload...)
	}
	c.out = c.out[bytes.Index(c.out, []byte(s))+len(s):]
}

// exit reads to the exit frame and returns it with the output before it.
func (c *client) exit() (wire.Exit, string) {
	c.t.Helper()
	c.conn.SetReadDeadline(time.Now().Add(timeout))
	for {
		f, err := c.r.Next()
		if err != nil {
			c.t.Fatalf("waiting for the exit frame: %v; output %q", err, c.out)
		}
		switch f.Type {
		case wire.TypeData:
			c.out = append(c.out, f.Payload...)
		case wire.TypeExit:
			e, err := wire.ParseExit(f.Payload)
			if err != nil {
				c.t.Fatal(err)
			}
			out := string(c.out)
			c.out = nil
			return e, out
		default:
			c.t.Fatalf("a %v frame from the server", f.Type)
		}
	}
}

// gone waits until process pid has exited.
func gone(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for syscall.Kill(pid, 0) == nil && !zombie(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("process %d still runs", pid)
		}
		time.Sleep(10 * time.Millisecond) // no event tells of a process that is not one's child
	}
}

func zombie(pid int) bool {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	return len(f) > 0 && f[0] == "Z"
}

// fds lists the descriptors of pid: number -> what it is.
func fds(t *testing.T, pid int) map[int]string {
	t.Helper()
	dir := "/proc/" + strconv.Itoa(pid) + "/fd/"
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	m := map[int]string{}
	for _, e := range ents {
		n, _ := strconv.Atoi(e.Name())
		m[n], _ = os.Readlink(dir + e.Name())
	}
	return m
}
