package supervisor

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"go.uber.org/goleak"
	"golang.org/x/sys/unix"
)

// TestMain runs the test app instead of the tests when the test binary was
// started as one (see helper_test.go). launcher's trampoline needs no
// dispatch: its init takes the process before TestMain.
func TestMain(m *testing.M) {
	switch mode := os.Getenv(helperEnv); mode {
	case "":
	case "flock":
		runFlockHelper()
	case "notify":
		runNotifyApp()
	default:
		runHelper(mode)
	}
	// The first pollable file creates the runtime's poller descriptors:
	// make that happen before any test counts descriptors.
	if r, w, err := os.Pipe(); err == nil {
		r.Close()
		w.Close()
	}
	goleak.VerifyTestMain(m)
}

var harnesses atomic.Int64

// harness runs a Supervisor for one test and stops it at cleanup.
type harness struct {
	t      testing.TB
	s      *Supervisor
	cfg    Config
	cancel context.CancelFunc
	done   chan error
}

// newHarness starts a supervisor under a fresh directory; mod adjusts the
// config. Apps run in cgroups as root, without them otherwise.
func newHarness(t testing.TB, mod func(*Config)) *harness {
	t.Helper()
	dir := t.TempDir()
	cfg := Config{Socket: filepath.Join(dir, "run", "ctl.sock"), StateDir: filepath.Join(dir, "state"),
		CgroupParent: fmt.Sprintf("migrate-test-%d-%d", os.Getpid(), harnesses.Add(1)),
		NoCgroups:    os.Geteuid() != 0, StopTimeout: 2 * time.Second,
		Log: zerolog.New(zerolog.NewTestWriter(t)).With().Timestamp().Logger()}
	if mod != nil {
		mod(&cfg)
	}
	// Registered first, so it runs last: whatever the test opened through
	// the supervisor is closed by then.
	before := openFDs(t)
	t.Cleanup(func() { waitFDs(t, before) })
	return startHarness(t, cfg)
}

func startHarness(t testing.TB, cfg Config) *harness {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h := &harness{t: t, s: s, cfg: cfg, cancel: cancel, done: make(chan error, 1)}
	go func() { h.done <- s.Run(ctx) }()
	select {
	case <-s.Running():
	case err := <-h.done:
		t.Fatalf("Run: %v", err)
	}
	t.Cleanup(h.stop)
	return h
}

// stop shuts the supervisor down; it may run more than once.
func (h *harness) stop() {
	h.t.Helper()
	if h.cancel == nil {
		return
	}
	h.cancel()
	h.cancel = nil
	if err := <-h.done; err != nil {
		h.t.Errorf("Run: %v", err)
	}
	h.s.mu.Lock()
	defer h.s.mu.Unlock()
	for pid, p := range h.s.procs {
		h.t.Errorf("process %d of app %s not reaped at shutdown", pid, p.app.name)
	}
}

// testAppIO is the test's side of a test app's stdio.
type testAppIO struct {
	t     testing.TB
	app   *App
	stdin *os.File
	lines chan string
}

// startApp starts the test binary as app name in helper mode, with env
// added, listening on a loopback port.
func (h *harness) startApp(name string, env ...string) *testAppIO {
	h.t.Helper()
	return h.startAppMode(name, "app", env...)
}

// startAppMode starts the test binary as app name in helper mode mode.
func (h *harness) startAppMode(name, mode string, env ...string) *testAppIO {
	h.t.Helper()
	exe, err := os.Executable()
	if err != nil {
		h.t.Fatal(err)
	}
	wd, _ := os.Getwd()
	return h.startAppSpec(AppSpec{Name: name, Args: []string{exe, "-test.run=^$"}, Cwd: wd,
		Env: append([]string{helperEnv + "=" + mode, "PATH=/usr/bin:/bin"}, env...)})
}

// startAppSpec starts an app from spec, listening on a loopback port, with
// its stdio connected to the test.
func (h *harness) startAppSpec(spec AppSpec) *testAppIO {
	h.t.Helper()
	spec.Listen = []ListenSpec{{Address: "tcp://127.0.0.1:0", Name: "listen"}}
	return h.startSpecIO(spec)
}

// startSpecIO starts an app from spec with its stdio connected to the test.
func (h *harness) startSpecIO(spec AppSpec) *testAppIO {
	h.t.Helper()
	inR, inW := pipe(h.t)
	outR, outW := pipe(h.t)
	spec.Stdio = [3]int{inR, outW, 2}
	a, err := h.s.StartApp(spec)
	unix.Close(inR)
	unix.Close(outW)
	if err != nil {
		unix.Close(inW)
		unix.Close(outR)
		h.t.Fatalf("StartApp: %v", err)
	}
	io := &testAppIO{t: h.t, app: a, stdin: os.NewFile(uintptr(inW), "stdin"), lines: make(chan string, 64)}
	h.t.Cleanup(func() { io.stdin.Close() })
	out := os.NewFile(uintptr(outR), "stdout")
	go func() {
		defer out.Close()
		defer close(io.lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			io.lines <- sc.Text()
		}
	}()
	return io
}

// pipe returns a close-on-exec pipe's raw ends.
func pipe(t testing.TB) (r, w int) {
	t.Helper()
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	return p[0], p[1]
}

// expect waits for the app's next report starting with word and returns
// its fields after it.
func (io *testAppIO) expect(word string) []string {
	io.t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case line, ok := <-io.lines:
			if !ok {
				io.t.Fatalf("app output ended while waiting for %q", word)
			}
			f := strings.Fields(line)
			if len(f) > 0 && f[0] == "error" {
				io.t.Fatalf("app reported %q", line)
			}
			if len(f) > 0 && f[0] == word {
				return f[1:]
			}
			io.t.Logf("app: %s", line)
		case <-timeout:
			io.t.Fatalf("no %q from the app", word)
		}
	}
}

// proceed lets an app waiting on its stdin go on.
func (io *testAppIO) proceed() {
	io.t.Helper()
	if _, err := io.stdin.WriteString("go\n"); err != nil {
		io.t.Fatal(err)
	}
}

func atou(t testing.TB, s string) uint64 {
	t.Helper()
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// client is the remote end of a session's TCP connection.
type client struct {
	t testing.TB
	c net.Conn
	r *bufio.Reader
}

func dialApp(t testing.TB, addr string) *client {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &client{t: t, c: c, r: bufio.NewReader(c)}
}

// ask sends one request and returns the number the app answers.
func (c *client) ask() uint64 {
	c.t.Helper()
	_ = c.c.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := c.c.Write([]byte{'?'}); err != nil {
		c.t.Fatal(err)
	}
	line, err := c.r.ReadString('\n')
	if err != nil {
		c.t.Fatalf("read from app: %v", err)
	}
	return atou(c.t, strings.TrimSpace(line))
}

// expectRun asks n times and checks the answers run from first on, with no
// gap or repeat.
func (c *client) expectRun(first uint64, n int) {
	c.t.Helper()
	for i := range n {
		if got := c.ask(); got != first+uint64(i) {
			c.t.Fatalf("answer %d is %d, want %d: a gap or a repeat", i, got, first+uint64(i))
		}
	}
}

// fdList lists the test process's open descriptors and what they are.
func fdList() string {
	ents, _ := os.ReadDir("/proc/self/fd")
	var b strings.Builder
	for _, e := range ents {
		l, _ := os.Readlink("/proc/self/fd/" + e.Name())
		fmt.Fprintf(&b, "%s=%s ", e.Name(), l)
	}
	return b.String()
}

// fdsOn counts the test process's descriptors on the socket with inode ino.
func fdsOn(t testing.TB, ino uint64) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range ents {
		if l, _ := os.Readlink("/proc/self/fd/" + e.Name()); l == fmt.Sprintf("socket:[%d]", ino) {
			n++
		}
	}
	return n
}

// openFDs counts the test process's open descriptors.
func openFDs(t testing.TB) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents) - 1
}
