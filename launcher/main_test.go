//go:build linux

package launcher

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"go.uber.org/goleak"
	"golang.org/x/sys/unix"
)

// TestMain runs the helper instead of the tests when the test binary was
// started as the app of a test (see helper_test.go). The trampoline needs no
// such dispatch: launcher's init takes it before TestMain runs.
func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		runHelper(mode)
	}
	// The first pollable file creates the runtime's poller descriptors;
	// make that happen before any test counts descriptors.
	if r, w, err := os.Pipe(); err == nil {
		r.Close()
		w.Close()
	}
	// Every test runs twice: through the trampoline, then with the direct
	// path, which start (below) checks was taken. Tests of the trampoline
	// alone skip the second pass (trampolineOnly). Benchmarks choose for
	// themselves and run once.
	flag.Parse()
	SetMode(ModeTrampoline)
	code := m.Run()
	if code == 0 && flag.Lookup("test.bench").Value.String() == "" {
		fmt.Fprintln(os.Stderr, "=== the same tests with the direct path (launcher.ModeAuto)")
		SetMode(ModeAuto)
		code = m.Run()
	}
	if trampolineBuild.dir != "" {
		os.RemoveAll(trampolineBuild.dir)
	}
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak: leaked goroutines:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// checkLeaks fails the test if it ends with descriptors open that were not
// open when it began. Call it first: cleanups run last-registered first.
func checkLeaks(t *testing.T) {
	t.Helper()
	before := openFDs(t)
	t.Cleanup(func() {
		after := openFDs(t)
		for fd, link := range after {
			if _, ok := before[fd]; !ok {
				t.Errorf("descriptor %s (%s) leaked", fd, link)
			}
		}
	})
}

func openFDs(t *testing.T) map[string]string {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	fds := make(map[string]string, len(ents))
	for _, e := range ents {
		link, _ := os.Readlink("/proc/self/fd/" + e.Name()) // the listing's own descriptor is gone
		fds[e.Name()] = link
	}
	return fds
}

// requireNoChildren fails the test if the test process has any child,
// running or zombie.
func requireNoChildren(t *testing.T) {
	t.Helper()
	var info unix.Siginfo
	err := unix.Waitid(unix.P_ALL, 0, &info, unix.WEXITED|unix.WNOHANG|unix.WNOWAIT, nil)
	if !errors.Is(err, unix.ECHILD) {
		t.Errorf("a child process is left behind (waitid: %v)", err)
	}
}

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates cgroups or changes credentials")
	}
}

// rawFD is a descriptor a test made; the number is what goes into Spec.Files.
type rawFD struct {
	*os.File
	n int
}

// newRawFD wraps n, closed when the test ends. os.NewFile leaves a blocking
// descriptor alone, and nothing here calls Fd.
func newRawFD(t testing.TB, n int, name string) rawFD {
	f := rawFD{os.NewFile(uintptr(n), name), n}
	t.Cleanup(func() { f.Close() })
	return f
}

// pipe returns a pipe whose ends are closed when the test ends.
func pipe(t testing.TB) (r, w rawFD) {
	t.Helper()
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	return newRawFD(t, p[0], "pipe-r"), newRawFD(t, p[1], "pipe-w")
}

func openRaw(t *testing.T, path string, flags int) rawFD {
	t.Helper()
	n, err := unix.Open(path, flags|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	return newRawFD(t, n, path)
}

// start starts spec and makes sure the process is gone when the test ends,
// before any cgroup it is in is removed.
func start(t *testing.T, spec Spec) *Process {
	t.Helper()
	p, err := Start(spec)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		_ = p.Signal(syscall.SIGKILL)
		_, _ = p.Wait()
	})
	checkPath(t, p)
	return p
}

// expectTrampoline is set by tests in which the direct path refuses.
var expectTrampoline bool

// checkPath fails the test if p was not started the way the mode says:
// directly in ModeAuto, unless the test set expectTrampoline.
func checkPath(t testing.TB, p *Process) {
	t.Helper()
	if want := currentMode() == ModeAuto && !expectTrampoline; p.direct != want {
		t.Errorf("started directly: %v, want %v", p.direct, want)
	}
}

// trampolineOnly skips a test of the trampoline path in the direct pass.
func trampolineOnly(t *testing.T) {
	t.Helper()
	if currentMode() != ModeTrampoline {
		t.Skip("a test of the trampoline path: run in the trampoline pass")
	}
}

// useMode sets the mode for the rest of the test.
func useMode(t testing.TB, m Mode) {
	old := SetMode(m)
	t.Cleanup(func() { SetMode(old) })
}

// wait waits for p and fails the test unless it exited with status 0.
func wait(t *testing.T, p *Process) {
	t.Helper()
	ps, err := p.Wait()
	if err != nil {
		t.Fatalf("Wait: %v", err)
	}
	if !ps.Success() {
		t.Fatalf("child ended with %v", ps)
	}
}

// output starts spec with a pipe at stdout and returns all the process
// wrote there, once it has exited with status 0.
func output(t *testing.T, spec Spec) string {
	t.Helper()
	r, w := pipe(t)
	spec.Files = append(spec.Files, FD{Target: 1, FD: w.n})
	p := start(t, spec)
	w.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	wait(t, p)
	return string(b)
}

// programSpec describes running a program of the system.
func programSpec(t testing.TB, args ...string) Spec {
	return Spec{Process: &specs.Process{
		Args: args,
		Env:  []string{"PATH=/usr/bin:/bin"},
		Cwd:  "/",
		User: currentUser(t),
	}}
}

// currentUser is the test's own credentials, so that specs do not need root.
func currentUser(t testing.TB) specs.User {
	t.Helper()
	u, err := CurrentUser()
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// statusField returns a field of a /proc/<pid>/status text.
func statusField(t *testing.T, status, name string) string {
	t.Helper()
	for line := range strings.Lines(status) {
		if v, ok := strings.CutPrefix(line, name+":"); ok {
			return strings.TrimSpace(v)
		}
	}
	t.Fatalf("no %s in status:\n%s", name, status)
	return ""
}

// makeCgroup creates a cgroup in the hierarchy mounted at
// /sys/fs/cgroup/<hierarchy>, removed when the test ends.
func makeCgroup(t testing.TB, hierarchy string) string {
	t.Helper()
	var b [6]byte
	_, _ = rand.Read(b[:])
	dir := filepath.Join("/sys/fs/cgroup", hierarchy, "migrate-launcher-test-"+hex.EncodeToString(b[:]))
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Skipf("cannot create a cgroup in %s: %v", hierarchy, err)
	}
	t.Cleanup(func() {
		if err := os.Remove(dir); err != nil {
			t.Errorf("remove cgroup: %v", err)
		}
	})
	return dir
}

// inCgroup reports whether procCgroup, the text of /proc/<pid>/cgroup,
// shows membership of the cgroup at dir, a directory under /sys/fs/cgroup.
func inCgroup(procCgroup, dir string) bool {
	hierarchy, path, _ := strings.Cut(strings.TrimPrefix(dir, "/sys/fs/cgroup/"), "/")
	if hierarchy == "unified" {
		hierarchy = "" // the v2 line reads "0::/path"
	}
	for line := range strings.Lines(procCgroup) {
		parts := strings.SplitN(strings.TrimSpace(line), ":", 3)
		if len(parts) == 3 && parts[1] == hierarchy && parts[2] == "/"+path {
			return true
		}
	}
	return false
}
