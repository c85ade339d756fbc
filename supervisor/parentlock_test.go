package supervisor

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"

	"github.com/migrate-run/migrate/accounting"
)

// The lock of a cgroup parent is exclusive: a second taker is refused with
// the holder's pid, whether it is another open file or another process;
// release removes the file and frees the parent; parents with a '/' get a
// file of their own; the descriptor is close-on-exec.
func TestParentLock(t *testing.T) {
	dir := t.TempDir()
	before := openFDs(t)
	l, err := lockParent(dir, "apps/web")
	if err != nil {
		t.Fatal(err)
	}
	if got := filepath.Base(l.path); got != "cgroup-apps%2Fweb.lock" {
		t.Errorf("lock file %s, want cgroup-apps%%2Fweb.lock", got)
	}
	if flags, err := unix.FcntlInt(uintptr(l.fd), unix.F_GETFD, 0); err != nil || flags&unix.FD_CLOEXEC == 0 {
		t.Errorf("lock descriptor flags %#x, %v: want close-on-exec", flags, err)
	}
	_, err = lockParent(dir, "/apps/web") // the same parent, spelt with its root
	var inUse *ParentInUseError
	if !errors.As(err, &inUse) || !errors.Is(err, ErrParentInUse) {
		t.Fatalf("second lock: %v, want a *ParentInUseError", err)
	}
	if inUse.PID != os.Getpid() || !strings.Contains(err.Error(), "pid "+strconv.Itoa(os.Getpid())) {
		t.Errorf("second lock names pid %d in %q, want ours, %d", inUse.PID, err, os.Getpid())
	}
	other, err := lockParent(dir, "apps")
	if err != nil {
		t.Fatalf("another parent: %v", err)
	}
	other.release()
	l.release()
	l.release() // twice is fine
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("lock files left after release: %v", ents)
	}
	if openFDs(t) != before {
		t.Errorf("%d descriptors open, %d before: %s", openFDs(t), before, fdList())
	}
	again, err := lockParent(dir, "apps/web")
	if err != nil {
		t.Fatalf("lock after release: %v", err)
	}
	again.release()
}

// A lock held by another process names that process; once it dies, the
// kernel drops the lock and the parent can be taken (a crashed supervisor
// does not keep it).
func TestParentLockOtherProcess(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, lockFileName("migrate"))
	held, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	cmd := startLockHolder(t, held)
	_, err = lockParent(dir, "migrate")
	var inUse *ParentInUseError
	if !errors.As(err, &inUse) || inUse.PID != cmd.Process.Pid {
		t.Fatalf("lock held by pid %d: %v", cmd.Process.Pid, err)
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	held.Close() // the child's fd 3 shared this open file, which holds the lock
	l, err := lockParent(dir, "migrate")
	if err != nil {
		t.Fatalf("lock after the holder died: %v", err)
	}
	l.release()
}

// startLockHolder runs a child that flocks f (inherited as fd 3) and waits;
// it returns once the lock is taken.
func startLockHolder(t *testing.T, f *os.File) *exec.Cmd {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"=flock")
	cmd.ExtraFiles = []*os.File{f}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	line := make([]byte, 7)
	if _, err := io.ReadFull(out, line); err != nil || string(line) != "locked\n" {
		t.Fatalf("lock holder said %q, %v", line, err)
	}
	return cmd
}

// runFlockHelper is the child of startLockHolder.
func runFlockHelper() {
	if err := unix.Flock(3, unix.LOCK_EX|unix.LOCK_NB); err != nil {
		fmt.Println("error", err)
		os.Exit(2)
	}
	fmt.Println("locked")
	select {}
}

// A supervisor owns its cgroup parent while it runs: a second one on the
// same parent (another socket, another store) fails in New with the
// holder's pid and touches nothing, the first one's app keeps running;
// once the first has stopped, the second starts and runs an app of the
// same name.
func TestCgroupParentHeld(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: without cgroups a supervisor holds no cgroup parent")
	}
	h := newHarness(t, nil)
	app := h.startApp("same")
	app.expect("listening")
	cfg := h.cfg
	dir := t.TempDir()
	cfg.Socket, cfg.StateDir = filepath.Join(dir, "run", "ctl.sock"), filepath.Join(dir, "state")
	_, err := New(cfg)
	var inUse *ParentInUseError
	if !errors.As(err, &inUse) || inUse.PID != os.Getpid() || inUse.Parent != cfg.CgroupParent {
		t.Fatalf("New on a held cgroup parent: %v, want a *ParentInUseError naming pid %d", err, os.Getpid())
	}
	t.Logf("refused: %v", err)
	for _, p := range []string{filepath.Dir(cfg.Socket), cfg.StateDir} {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("a refused New made %s (%v)", p, err)
		}
	}
	if pids, err := app.app.group.Procs(); err != nil || len(pids) == 0 {
		t.Fatalf("the first supervisor's app after the refusal: pids %v, %v", pids, err)
	}
	h.stop()
	if _, err := os.Stat(inUse.Lock); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("lock file %s after Run returned: %v", inUse.Lock, err)
	}
	h2 := startHarness(t, cfg)
	h2.startApp("same").expect("listening")
}

// A cgroup of the app's name found under a parent the supervisor holds is
// a dead run's leftover: its processes are killed, the pids logged, and
// the app starts in a fresh group.
func TestLeftoverGroupDestroyed(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: makes cgroups")
	}
	parent := fmt.Sprintf("migrate-test-%d-%d", os.Getpid(), harnesses.Add(1))
	m, err := accounting.NewManager(parent)
	if err != nil {
		t.Fatal(err)
	}
	old, err := m.Create("web", nil)
	if err != nil {
		t.Fatal(err)
	}
	p, err := os.StartProcess("/bin/sleep", []string{"sleep", "60"}, &os.ProcAttr{})
	if err != nil {
		t.Fatal(err)
	}
	pid := p.Pid
	_ = p.Release() // the supervisor's reaper reaps it
	if err := old.Add(pid); err != nil {
		_ = unix.Kill(pid, unix.SIGKILL)
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = old.Destroy() }) // if the test fails before the supervisor does it
	var log lockedBuffer
	h := newHarness(t, func(c *Config) {
		c.CgroupParent = parent
		c.Log = zerolog.New(zerolog.MultiLevelWriter(&log, zerolog.NewTestWriter(t)))
	})
	h.startApp("web").expect("listening")
	waitProcessGone(t, pid)
	if want := fmt.Sprintf(`"killed":[%d]`, pid); !strings.Contains(log.String(), want) {
		t.Errorf("log lacks %s:\n%s", want, log.String())
	}
}

func waitProcessGone(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil || bytes.Contains(b, []byte(") Z ")) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("pid %d still runs", pid)
		}
		time.Sleep(10 * time.Millisecond) // no pidfd: the reaper owns it
	}
}

// lockedBuffer is a log sink safe for the supervisor's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
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
