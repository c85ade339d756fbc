package tests

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/migrate-run/migrate/supervisor"
)

// daemon is a migrated the test started, with its socket, store and log in
// a temporary directory and, as root, its apps' cgroups under a parent of
// its own.
type daemon struct {
	t      testing.TB
	dir    string
	sock   string
	state  string
	parent string // cgroup parent, "" without cgroups
	extra  []string
	cmd    *exec.Cmd
	exited chan struct{}
	killed bool // a test SIGKILLed it: its apps outlive it
}

var daemons atomic.Int64

// startDaemon runs migrated with extra flags and waits until it answers.
// At cleanup it stops it (and whatever it left) and checks that its cgroup
// parent is gone.
func startDaemon(t testing.TB, extra ...string) *daemon {
	t.Helper()
	dir := t.TempDir()
	d := &daemon{t: t, dir: dir, sock: filepath.Join(dir, "migrated.sock"), state: filepath.Join(dir, "state"), extra: extra}
	if os.Geteuid() == 0 {
		d.parent = fmt.Sprintf("migrate-e2e-%d-%d", os.Getpid(), daemons.Add(1))
	}
	t.Cleanup(d.cleanup)
	d.start()
	return d
}

func (d *daemon) start() {
	d.t.Helper()
	d.spawn()
	d.waitReady()
}

// spawn starts migrated over the daemon's socket and state, logging to
// migrated.log, without waiting for it to answer.
func (d *daemon) spawn() {
	d.t.Helper()
	args := []string{"--socket", d.sock, "--state-dir", d.state, "--log-format", "json", "--log-level", "debug"}
	if d.parent != "" {
		args = append(args, "--cgroup-parent", d.parent)
	} else {
		args = append(args, "--no-cgroups")
	}
	log, err := os.OpenFile(filepath.Join(d.dir, "migrated.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		d.t.Fatal(err)
	}
	defer log.Close()
	cmd := exec.Command(binPath(d.t, "migrated"), append(args, d.extra...)...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		d.t.Fatal(err)
	}
	d.cmd, d.exited = cmd, make(chan struct{})
	go func(exited chan struct{}) { _ = cmd.Wait(); close(exited) }(d.exited)
}

func (d *daemon) waitReady() {
	d.t.Helper()
	d.waitAnswer(15*time.Second, 20*time.Millisecond, 2*time.Second)
}

// waitAnswer polls migrated's stats every poll until it answers one within
// ask, failing the test after within or when migrated exits first.
func (d *daemon) waitAnswer(within, poll, ask time.Duration) {
	d.t.Helper()
	deadline := time.Now().Add(within)
	for {
		select {
		case <-d.exited:
			d.t.Fatalf("migrated exited before it answered:\n%s", tail(d.log(), 4000))
		default:
		}
		if ac, err := supervisor.Dial(d.sock); err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), ask)
			_, err = ac.Stats(ctx)
			cancel()
			ac.Close()
			if err == nil {
				return
			}
		}
		if time.Now().After(deadline) {
			d.t.Fatalf("migrated did not answer on %s within %v:\n%s", d.sock, within, tail(d.log(), 4000))
		}
		time.Sleep(poll) // readiness is migrated's business: nothing to wait on
	}
}

func (d *daemon) pid() int { return d.cmd.Process.Pid }

func (d *daemon) log() string {
	b, _ := os.ReadFile(filepath.Join(d.dir, "migrated.log"))
	return string(b)
}

// kill SIGKILLs migrated (only it: its apps keep running) and reaps it.
func (d *daemon) kill() {
	d.t.Helper()
	d.killed = true
	_ = d.cmd.Process.Signal(syscall.SIGKILL)
	select {
	case <-d.exited:
	case <-time.After(10 * time.Second):
		d.t.Fatal("migrated did not die of SIGKILL within 10s")
	}
}

// stop asks migrated to stop its apps and exit, and waits.
func (d *daemon) stop() error {
	select {
	case <-d.exited:
		return nil
	default:
	}
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.exited:
		return nil
	case <-time.After(20 * time.Second):
		_ = syscall.Kill(-d.cmd.Process.Pid, syscall.SIGKILL)
		<-d.exited
		return errors.New("migrated did not stop within 20s of SIGTERM")
	}
}

func (d *daemon) cleanup() {
	if d.cmd != nil {
		if err := d.stop(); err != nil {
			d.t.Error(err)
		}
	}
	if d.parent == "" {
		return
	}
	// A SIGKILLed migrated leaves its apps running in their cgroups.
	if left := killCgroupTree(d.parent); len(left) > 0 && !d.t.Failed() && !d.keepsApps() {
		d.t.Errorf("cgroups left under %s after migrated stopped: %v", d.parent, left)
	}
	if left := cgroupDirs(d.parent); len(left) > 0 {
		d.t.Errorf("could not remove cgroups %v", left)
	}
}

// keepsApps reports whether a test killed migrated, which leaves the apps
// and their cgroups behind by design.
func (d *daemon) keepsApps() bool { return d.killed }

// ctl runs migratectl against the daemon and returns its stdout; a non-zero
// exit is an error carrying the status and stderr.
func (d *daemon) ctl(args ...string) (string, error) {
	d.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binPath(d.t, "migratectl"), append([]string{"--socket", d.sock, "--timeout", "30s"}, args...)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return string(out), fmt.Errorf("migratectl %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return string(out), nil
}

// ctlJSON runs migratectl --json and decodes its document into out; it
// fails the test when the command fails.
func (d *daemon) ctlJSON(out any, args ...string) {
	d.t.Helper()
	js, err := d.ctl(append([]string{"--json"}, args...)...)
	if err != nil {
		d.t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(js), out); err != nil {
		d.t.Fatalf("migratectl --json %s printed %q: %v", strings.Join(args, " "), js, err)
	}
}

func (d *daemon) sessions() []supervisor.SessionInfo {
	d.t.Helper()
	var r struct{ Sessions []supervisor.SessionInfo }
	d.ctlJSON(&r, "sessions")
	return r.Sessions
}

func (d *daemon) conts() []supervisor.ContInfo {
	d.t.Helper()
	var r struct{ Continuations []supervisor.ContInfo }
	d.ctlJSON(&r, "list")
	return r.Continuations
}

// admin returns an admin client of the daemon, closed at cleanup.
func (d *daemon) admin() *supervisor.AdminClient {
	d.t.Helper()
	ac, err := supervisor.Dial(d.sock)
	if err != nil {
		d.t.Fatal(err)
	}
	d.t.Cleanup(func() { ac.Close() })
	return ac
}

// fdCount counts the open descriptors of pid.
func fdCount(t testing.TB, pid int) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}
