//go:build linux

package accounting

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// ioTimeout bounds a read from a helper, so that a hung helper fails the
// test instead of hanging it.
const ioTimeout = 30 * time.Second

// modeCases are the layouts the tests run against. On a hybrid host all
// three exist: the host's own, the v1 controllers alone, and the unified
// hierarchy (no controllers) driven as a V2 root. A case the host lacks is
// skipped.
var modeCases = []struct {
	name string
	opts []Option
}{
	{"host", nil},
	{"v1", []Option{WithMode(V1)}},
	{"unified", []Option{WithRoot(DefaultRoot + "/unified")}},
}

func forEachMode(t *testing.T, fn func(t *testing.T, e *env)) {
	for _, mc := range modeCases {
		t.Run(mc.name, func(t *testing.T) { fn(t, newEnv(t, mc.opts...)) })
	}
}

// withoutCgroupKill makes Kill use its freeze-signal-thaw loop, as on a
// kernel without cgroup.kill.
func withoutCgroupKill() Option { return func(c *config) { c.noCgroupKill = true } }

// env is one test's Manager, under a parent no other test uses, and the
// helper processes it started. Its cleanup runs even when the test fails:
// it kills and deletes every group, waits for every child, reaps every
// orphan, removes the parent, and checks that no cgroup directory and no
// descriptor is left.
type env struct {
	t        testing.TB
	m        *Manager
	parent   string
	fds      int
	children []*child
}

func newEnv(t testing.TB, opts ...Option) *env {
	t.Helper()
	requireRoot(t)
	e := &env{t: t, parent: "migrate-test-" + randomHex(t), fds: countFDs(t)}
	m, err := NewManager(e.parent, opts...)
	switch {
	case errors.Is(err, ErrUnavailable), errors.Is(err, ErrUnsupported):
		t.Skipf("layout not on this host: %v", err)
	case err != nil:
		t.Fatal(err)
	}
	e.m = m
	t.Cleanup(e.cleanup)
	return e
}

func requireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: makes cgroups under /sys/fs/cgroup")
	}
}

func randomHex(t testing.TB) string {
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

func (e *env) cleanup() {
	t := e.t
	for _, c := range e.children {
		c.kill()
	}
	e.destroyAll()
	for _, c := range e.children {
		c.reap(t)
	}
	reapOrphans(t)
	if err := e.m.Delete(); err != nil {
		t.Errorf("remove parent: %v", err)
		forceRemove(t, e.parent)
	}
	assertNoCgroup(t, e.parent)
	if n := countFDs(t); n != e.fds {
		t.Errorf("open descriptors: %d before the test, %d after", e.fds, n)
	}
}

// destroyAll kills and deletes every group, completing half-made ones.
func (e *env) destroyAll() {
	names, err := e.m.Groups()
	if err != nil {
		e.t.Errorf("list groups: %v", err)
	}
	for _, name := range names {
		g, err := e.m.Load(name)
		if errors.Is(err, ErrNotFound) {
			g, err = e.m.Create(name, nil)
		}
		if err == nil {
			err = g.Destroy()
		}
		if err != nil {
			e.t.Errorf("destroy group %q: %v", name, err)
		}
	}
}

// create makes a group or fails the test.
func (e *env) create(name string) *Group {
	e.t.Helper()
	g, err := e.m.Create(name, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	return g
}

// child is a helper process the test talks to over pipes.
type child struct {
	cmd  *exec.Cmd
	in   *os.File // the child's stdin
	out  *os.File // the child's stdout
	r    *bufio.Reader
	done bool
}

// start runs a helper (see main_test.go) and waits for its "ready".
func (e *env) start(name string, env ...string) *child {
	e.t.Helper()
	c, err := startChild(name, env)
	if err != nil {
		e.t.Fatal(err)
	}
	e.children = append(e.children, c)
	if line := c.line(e.t); line != "ready" {
		e.t.Fatalf("helper %s said %q, want ready", name, line)
	}
	return c
}

func startChild(name string, env []string) (*child, error) {
	inR, inW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		inR.Close()
		inW.Close()
		return nil, err
	}
	cmd := selfCommand(name)
	cmd.Env = append(cmd.Env, env...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = inR, outW, os.Stderr
	err = cmd.Start()
	inR.Close()
	outW.Close()
	if err != nil {
		inW.Close()
		outR.Close()
		return nil, err
	}
	return &child{cmd: cmd, in: inW, out: outR, r: bufio.NewReader(outR)}, nil
}

func (c *child) pid() int { return c.cmd.Process.Pid }

func (c *child) send(t testing.TB, line string) {
	t.Helper()
	if _, err := c.in.WriteString(line + "\n"); err != nil {
		t.Fatalf("write to helper %d: %v", c.pid(), err)
	}
}

// line reads one line from the child, failing the test on EOF or after
// ioTimeout.
func (c *child) line(t testing.TB) string {
	t.Helper()
	c.out.SetReadDeadline(time.Now().Add(ioTimeout))
	s, err := c.r.ReadString('\n')
	if err != nil {
		t.Fatalf("read from helper %d: %v (got %q)", c.pid(), err, s)
	}
	return strings.TrimSuffix(s, "\n")
}

// wait closes the child's stdin and reaps it.
func (c *child) wait(t testing.TB) *os.ProcessState {
	t.Helper()
	c.in.Close()
	err := c.cmd.Wait()
	c.out.Close()
	c.done = true
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("wait for helper %d: %v", c.pid(), err)
	}
	return c.cmd.ProcessState
}

// kill ends a child without waiting: a frozen one dies when its group is
// destroyed.
func (c *child) kill() {
	if !c.done {
		c.in.Close()
		c.cmd.Process.Kill()
	}
}

func (c *child) reap(t testing.TB) {
	if !c.done {
		c.cmd.Wait()
		c.out.Close()
		c.done = true
	}
}

// reapOrphans reaps the processes reparented to the test process (see
// TestMain). A child still running at this point escaped its group.
func reapOrphans(t testing.TB) {
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
		switch {
		case errors.Is(err, unix.ECHILD):
			return
		case err != nil:
			t.Errorf("reap orphans: %v", err)
			return
		case pid == 0:
			t.Errorf("a child process is still running after its group was destroyed")
			return
		}
	}
}

func countFDs(t testing.TB) int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}
