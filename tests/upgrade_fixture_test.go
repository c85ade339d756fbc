package tests

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/migrate-run/migrate/examples/counter/streamcheck"
	"github.com/migrate-run/migrate/supervisor"
)

// upgradeWait bounds one migratectl upgrade: it suspends and resumes every
// session, and the resumes of complete continuations launch one process
// after another.
const upgradeWait = 2 * time.Minute

// buildVariant builds the main package pkg (relative to the module root)
// into a directory of tb's as name, with -ldflags "-X main.K=V" for each
// of vars ("version=2"), and returns its path: the new program of an
// upgrade.
func buildVariant(tb testing.TB, pkg, name string, vars ...string) string {
	tb.Helper()
	root, err := moduleRoot()
	if err != nil {
		tb.Fatal(err)
	}
	var ldflags []string
	for _, kv := range vars {
		ldflags = append(ldflags, "-X main."+kv)
	}
	out := filepath.Join(tb.TempDir(), name)
	cmd := exec.Command("go", "build", "-o", out, "-ldflags", strings.Join(ldflags, " "), pkg)
	cmd.Dir = root
	if msg, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("build %s %v: %v\n%s", pkg, vars, err, msg)
	}
	return out
}

// upApp is an app run by migrate-run alone (an embedded supervisor with a
// socket, store and, as root, cgroup parent of the test's own) with a
// listening socket it holds, as runService runs one, for tests and
// benchmarks alike.
type upApp struct {
	tb   testing.TB
	name string
	sup  *daemon
	run  *app
	addr string // the held socket's address
}

// runUpgradable runs "migrate-run --listen tcp://127.0.0.1:0 -- argv..." as
// app name and waits until the server says "listening on ADDR". At cleanup
// migrate-run is stopped, and then no cgroup may be left under its parent.
func runUpgradable(tb testing.TB, name string, argv ...string) *upApp {
	tb.Helper()
	dir := tb.TempDir()
	sup := &daemon{t: tb, dir: dir, sock: filepath.Join(dir, "migrated.sock"), state: filepath.Join(dir, "state")}
	flags := []string{"--state-dir", sup.state, "--log-format", "json", "--log-level", "info", "--listen", "tcp://127.0.0.1:0"}
	if os.Geteuid() == 0 {
		sup.parent = fmt.Sprintf("migrate-e2e-%d-%d", os.Getpid(), daemons.Add(1))
		flags = append(flags, "--cgroup-parent", sup.parent)
	} else {
		flags = append(flags, "--no-cgroups")
	}
	tb.Cleanup(sup.cleanup) // after migrate-run's stop, registered next
	a := &upApp{tb: tb, name: name, sup: sup, run: sup.runApp(name, flags, argv...)}
	m := a.run.waitLine(`^` + filepath.Base(argv[0]) + `: listening on (\S+)$`)
	a.addr = m[1]
	return a
}

// mainPID is the app's main process as migratectl status says.
func (a *upApp) mainPID() int {
	a.tb.Helper()
	var r struct{ Service supervisor.AppInfo }
	a.sup.ctlJSON(&r, "status", a.name)
	return r.Service.PID
}

// upgradeRun is what one migratectl upgrade did.
type upgradeRun struct {
	report         supervisor.UpgradeReport // with --json, when it printed one
	stdout, stderr string
	code           int
	wall           time.Duration // around the migratectl process
}

// upgrade runs migratectl [--json] upgrade APP --exec exec [extra...] and
// returns what it printed, its exit status and how long it took.
func (a *upApp) upgrade(asJSON bool, exec string, extra ...string) upgradeRun {
	a.tb.Helper()
	args := []string{"--socket", a.sup.sock, "--timeout", upgradeWait.String()}
	if asJSON {
		args = append(args, "--json")
	}
	args = append(append(args, "upgrade", a.name, "--exec", exec), extra...)
	var r upgradeRun
	stdout, stderr, code, wall := runCtl(a.tb, args...)
	r.stdout, r.stderr, r.code, r.wall = stdout, stderr, code, wall
	if asJSON && stdout != "" {
		if err := json.Unmarshal([]byte(stdout), &r.report); err != nil {
			a.tb.Fatalf("migratectl --json upgrade printed %q: %v", stdout, err)
		}
	}
	return r
}

// runCtl runs migratectl with args and returns its output, exit status and
// wall time.
func runCtl(tb testing.TB, args ...string) (stdout, stderr string, code int, wall time.Duration) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), upgradeWait+30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binPath(tb, "migratectl"), args...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	start := time.Now()
	err := cmd.Run()
	wall = time.Since(start)
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		code = exit.ExitCode()
	case err != nil:
		tb.Fatalf("migratectl %v: %v", args, err)
	}
	return out.String(), errOut.String(), code, wall
}

// exe is the program pid runs (/proc/PID/exe).
func exe(tb testing.TB, pid int) string {
	tb.Helper()
	path, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/exe")
	if err != nil {
		tb.Fatalf("program of pid %d: %v", pid, err)
	}
	return path
}

// connectsDuring connects to addr over and over, one connection every
// pause, until ctx ends; each reads the server's first line within
// hammerTimeout, as hammer's do, and then stays open until ctx ends: a
// session that ends while an upgrade suspends it makes the upgrade fail
// for now (docs/upgrade.md, Caveats). It returns the counts (hammer's)
// and the first lines read.
func connectsDuring(ctx context.Context, addr string, pause time.Duration) (loadResult, []string) {
	r := loadResult{Other: map[string]int{}}
	var (
		conns []net.Conn
		first []string
		wg    sync.WaitGroup
		mu    sync.Mutex
	)
	tick := time.NewTicker(pause)
	defer tick.Stop()
	for !runOver(ctx) {
		wg.Go(func() {
			conn, line, outcome := connectFirstLine(addr)
			mu.Lock()
			defer mu.Unlock()
			r.add(outcome)
			if conn != nil {
				conns, first = append(conns, conn), append(first, line)
			}
		})
		select {
		case <-ctx.Done():
		case <-tick.C:
		}
	}
	wg.Wait()
	for _, c := range conns {
		c.Close()
	}
	return r, first
}

// firstLineTimeout bounds a connection's wait for its first line during
// an upgrade: one the old main process accepted while the sessions were
// being suspended is upgraded with them, and waits for the whole upgrade
// (2.5 s for 100 sessions on a loaded 2-core machine).
const firstLineTimeout = 20 * time.Second

// connectFirstLine connects to addr and reads the first line (without its
// newline); the connection is returned open when that went well.
func connectFirstLine(addr string) (net.Conn, string, string) {
	deadline := time.Now().Add(firstLineTimeout)
	conn, err := (&net.Dialer{Deadline: deadline}).Dial("tcp", addr)
	if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) {
		return nil, "", outcomeRefused
	}
	if err != nil {
		return nil, "", failure("connect", err)
	}
	if err := conn.SetReadDeadline(deadline); err != nil {
		conn.Close()
		return nil, "", failure("set the deadline", err)
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		conn.Close()
		if errors.Is(err, syscall.ECONNRESET) {
			return nil, "", outcomeRefused
		}
		return nil, "", failure("read the first line", err)
	}
	return conn, strings.TrimSuffix(line, "\n"), outcomeOK
}

// vstream is the test's own client of a numbered stream, checked as
// counter-client and broadcast-client check theirs (with streamcheck's
// formats): each number one more than the one before, and the versions of
// the server that wrote them, in the order they served. The test can wait
// for lines and versions, which a client process does not show.
type vstream struct {
	conn     net.Conn
	format   streamcheck.Format
	mu       sync.Mutex
	received uint64
	last     uint64
	versions []string
	err      error // a gap, duplicate or garbled line, or why the stream ended
	more     chan struct{}
	done     chan struct{}
}

// dialVersioned connects to addr and reads format's lines until the
// connection ends; it is closed at cleanup.
func dialVersioned(tb testing.TB, addr string, format streamcheck.Format) *vstream {
	tb.Helper()
	conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		tb.Fatal(err)
	}
	s := &vstream{conn: conn, format: format, more: make(chan struct{}, 1), done: make(chan struct{})}
	go s.read()
	tb.Cleanup(func() { conn.Close(); <-s.done })
	return s
}

func (s *vstream) read() {
	defer close(s.done)
	sc := bufio.NewScanner(s.conn)
	for sc.Scan() {
		if err := s.check(sc.Text()); err != nil {
			s.mu.Lock()
			s.err = err
			s.mu.Unlock()
			s.conn.Close()
			return
		}
		select {
		case s.more <- struct{}{}:
		default:
		}
	}
	s.mu.Lock()
	if s.err == nil {
		s.err = fmt.Errorf("connection ended after %d: %v", s.last, sc.Err())
	}
	s.mu.Unlock()
}

func (s *vstream) check(line string) error {
	n, err := s.format.Number(line)
	s.mu.Lock()
	defer s.mu.Unlock()
	switch want := s.last + 1; {
	case err != nil:
		return fmt.Errorf("garbled line %q after %d: %v", line, s.last, err)
	case s.received == 0 && s.format.First == 0:
	case s.received == 0 && n != s.format.First:
		return fmt.Errorf("first number %d, want %d", n, s.format.First)
	case s.received > 0 && n != want:
		return fmt.Errorf("expected %d got %d", want, n)
	}
	s.received, s.last = s.received+1, n
	if v := s.format.Version(line); len(s.versions) == 0 || s.versions[len(s.versions)-1] != v {
		s.versions = append(s.versions, v)
	}
	return nil
}

// state returns how many lines arrived, the versions that served them,
// and the error so far.
func (s *vstream) state() (uint64, []string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.received, slices.Clone(s.versions), s.err
}

// waitFor waits until ok holds of the stream's line count and versions.
func (s *vstream) waitFor(ctx context.Context, what string, ok func(received uint64, versions []string) bool) error {
	for {
		n, vs, err := s.state()
		switch {
		case err != nil:
			return fmt.Errorf("before %s: %w", what, err)
		case ok(n, vs):
			return nil
		}
		select {
		case <-s.more:
		case <-s.done:
		case <-ctx.Done():
			return fmt.Errorf("%s: not within the time (%d lines, served by %v): %w", what, n, vs, ctx.Err())
		}
	}
}

// waitAll runs waitFor on every stream at once and fails the test with
// the errors.
func waitAll(tb testing.TB, streams []*vstream, what string, ok func(uint64, []string) bool) {
	tb.Helper()
	waitEach(tb, streams, what, func(*vstream) func(uint64, []string) bool { return ok })
}

// waitMore waits until every stream received k more lines than it has
// now, with no error.
func waitMore(tb testing.TB, streams []*vstream, k uint64) {
	tb.Helper()
	waitEach(tb, streams, fmt.Sprintf("%d more lines", k), func(s *vstream) func(uint64, []string) bool {
		now, _, _ := s.state()
		return func(got uint64, _ []string) bool { return got >= now+k }
	})
}

// waitEach runs waitFor on every stream at once, with the condition
// okFor makes for it, and fails the test with the errors.
func waitEach(tb testing.TB, streams []*vstream, what string, okFor func(*vstream) func(uint64, []string) bool) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	errs := make([]error, len(streams))
	var wg sync.WaitGroup
	for i, s := range streams {
		ok := okFor(s)
		wg.Go(func() { errs[i] = s.waitFor(ctx, what, ok) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			tb.Errorf("client %d: %v", i, err)
		}
	}
	if tb.Failed() {
		tb.FailNow()
	}
}
