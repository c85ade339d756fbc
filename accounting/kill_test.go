//go:build linux

package accounting

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/containerd/cgroups/v3/cgroup1"

	"golang.org/x/sys/unix"
)

// killCases runs fn in every layout, once with cgroup.kill and once with
// the freeze-signal-thaw loop older kernels need.
func killCases(t *testing.T, fn func(t *testing.T, e *env)) {
	for _, mc := range modeCases {
		for _, kc := range []struct {
			name string
			opts []Option
		}{{"cgroup.kill", nil}, {"loop", []Option{withoutCgroupKill()}}} {
			t.Run(mc.name+"/"+kc.name, func(t *testing.T) {
				fn(t, newEnv(t, append(slices.Clone(mc.opts), kc.opts...)...))
			})
		}
	}
}

// A helper in the group starts a grandchild in a new session and exits:
// the grandchild is no longer in our process tree (it is reparented) but
// is still in the group. Kill reaches it: by the time Kill returns it has
// exited, killed by SIGKILL.
func TestKillReachesDoubleForkedGrandchild(t *testing.T) {
	killCases(t, func(t *testing.T, e *env) {
		g := e.create("app")
		c := e.start("daemonize")
		if err := g.Add(c.pid()); err != nil {
			t.Fatal(err)
		}
		c.send(t, "go")
		var gc int
		if _, err := fmt.Sscanf(c.line(t), "grandchild %d", &gc); err != nil {
			t.Fatal(err)
		}
		if ws := c.wait(t).Sys().(syscall.WaitStatus); ws.ExitStatus() != 0 {
			t.Fatalf("daemonizing helper: %v", ws)
		}
		if ppid := parentOf(t, gc); ppid == c.pid() {
			t.Fatalf("grandchild %d still has its parent %d", gc, ppid)
		}
		pidfd, err := unix.PidfdOpen(gc, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer unix.Close(pidfd)
		if procs, err := g.Procs(); err != nil || !slices.Equal(procs, []int{gc}) {
			t.Fatalf("Procs() before Kill = %v, %v; want [%d]", procs, err, gc)
		}
		if err := g.Kill(); err != nil {
			t.Fatal(err)
		}
		if !exited(t, pidfd) {
			t.Fatalf("grandchild %d still runs after Kill returned", gc)
		}
		assertKilled(t, gc)
		if procs, err := g.Procs(); err != nil || len(procs) != 0 {
			t.Fatalf("Procs() after Kill = %v, %v", procs, err)
		}
	})
}

// Kill empties a group whose process keeps forking while Kill runs.
func TestKillForkingGroup(t *testing.T) {
	killCases(t, func(t *testing.T, e *env) {
		g := e.create("app")
		c := e.start("spawner")
		if err := g.Add(c.pid()); err != nil {
			t.Fatal(err)
		}
		c.send(t, "go")
		if err := g.Kill(); err != nil {
			t.Fatal(err)
		}
		if procs, err := g.Procs(); err != nil || len(procs) != 0 {
			t.Fatalf("Procs() after Kill = %v, %v", procs, err)
		}
		if ws := c.wait(t).Sys().(syscall.WaitStatus); !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
			t.Fatalf("spawner: %v, want killed", ws)
		}
		// The cleanup reaps the spawner's orphans and fails on a live one.
	})
}

// Kill reaches a frozen group and leaves it thawed and empty.
func TestKillFrozenGroup(t *testing.T) {
	killCases(t, func(t *testing.T, e *env) {
		g := e.create("app")
		c := e.start("echo")
		if err := g.Add(c.pid()); err != nil {
			t.Fatal(err)
		}
		if err := g.Freeze(); err != nil {
			t.Fatal(err)
		}
		if err := g.Kill(); err != nil {
			t.Fatal(err)
		}
		if ws := c.wait(t).Sys().(syscall.WaitStatus); !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
			t.Fatalf("frozen child: %v, want killed", ws)
		}
		if frozen, err := g.Frozen(); err != nil || frozen {
			t.Fatalf("Frozen() after Kill = %v, %v; want thawed", frozen, err)
		}
	})
}

// Kill of an empty group returns at once; of a deleted one, ErrNotFound.
func TestKillEmptyAndDeleted(t *testing.T) {
	killCases(t, func(t *testing.T, e *env) {
		g := e.create("app")
		if err := g.Kill(); err != nil {
			t.Fatal(err)
		}
		if err := g.Delete(); err != nil {
			t.Fatal(err)
		}
		if err := g.Kill(); !errors.Is(err, ErrNotFound) {
			t.Errorf("Kill of a deleted group = %v, want ErrNotFound", err)
		}
	})
}

// A group that lost its unified directory (a crash half-way) still gets
// emptied: Kill falls back to the v1 hierarchies.
func TestKillIncompleteGroup(t *testing.T) {
	e := newEnv(t)
	if e.m.Mode() != Hybrid {
		t.Skip("needs a hybrid host")
	}
	g := e.create("app")
	if err := os.Remove(g.UnifiedPath()); err != nil {
		t.Fatal(err)
	}
	c := e.start("echo")
	if err := g.Add(c.pid()); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Add to a group without its unified directory = %v, want ErrNotFound", err)
	}
	if err := g.Kill(); err != nil {
		t.Fatal(err)
	}
	if ws := c.wait(t).Sys().(syscall.WaitStatus); !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("child in the v1 part: %v, want killed", ws)
	}
}

// When processes cannot die before the deadline (here: a v1 freezer
// frozen above the group, which a SIGKILL does not get past) Kill fails
// with ErrTimeout and names them. Under v2 a frozen ancestor does not stop
// a SIGKILL, and Kill succeeds.
func TestKillTimesOut(t *testing.T) {
	for _, mc := range modeCases {
		for _, noKill := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/noCgroupKill=%v", mc.name, noKill), func(t *testing.T) {
				opts := append(slices.Clone(mc.opts), WithTimeout(300*time.Millisecond))
				if noKill {
					opts = append(opts, withoutCgroupKill())
				}
				killTimesOut(t, newEnv(t, opts...))
			})
		}
	}
}

func killTimesOut(t *testing.T, e *env) {
	g := e.create("app")
	c := e.start("echo")
	if err := g.Add(c.pid()); err != nil {
		t.Fatal(err)
	}
	// Freeze the parent with the freezer the group uses.
	var file, frozen, thawed string
	if s := findV1(e.m.v1, cgroup1.Freezer); s != nil {
		file, frozen, thawed = filepath.Join(s.mount, s.parent, "freezer.state"), "FROZEN", "THAWED"
	} else {
		u := e.m.unified
		file, frozen, thawed = filepath.Join(u.mount, u.parent, "cgroup.freeze"), "1", "0"
	}
	if err := writeCgroupFile(file, frozen); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := writeCgroupFile(file, thawed); err != nil {
			t.Errorf("thaw the parent: %v", err)
		}
	})
	err := g.Kill()
	if thawed == "0" {
		if err != nil {
			t.Fatalf("Kill under a v2-frozen parent: %v", err)
		}
		return
	}
	var ne *NotEmptyError
	if !errors.Is(err, ErrTimeout) || !errors.As(err, &ne) || !slices.Equal(ne.Pids, []int{c.pid()}) {
		t.Fatalf("Kill of a process held by a frozen v1 parent = %v, want ErrTimeout naming %d", err, c.pid())
	}
}

// parentOf reads the parent pid from /proc/PID/stat.
func parentOf(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	// pid (comm) state ppid ...; comm may hold spaces and parentheses.
	rest := string(b[strings.LastIndexByte(string(b), ')')+2:])
	ppid, err := strconv.Atoi(strings.Fields(rest)[1])
	if err != nil {
		t.Fatal(err)
	}
	return ppid
}

// exited tells, without waiting, whether the process of pidfd has exited
// (a pidfd polls readable from then on).
func exited(t *testing.T, pidfd int) bool {
	t.Helper()
	fds := []unix.PollFd{{Fd: int32(pidfd), Events: unix.POLLIN}}
	n, err := unix.Poll(fds, 0)
	if err != nil {
		t.Fatal(err)
	}
	return n == 1
}

// assertKilled reaps pid, reparented to the test process (TestMain makes
// it a subreaper), and checks that SIGKILL ended it.
func assertKilled(t *testing.T, pid int) {
	t.Helper()
	var ws unix.WaitStatus
	if _, err := unix.Wait4(pid, &ws, 0, nil); err != nil {
		t.Fatalf("reap %d: %v", pid, err)
	}
	if !ws.Signaled() || ws.Signal() != unix.SIGKILL {
		t.Fatalf("process %d ended with %v, want SIGKILL", pid, ws)
	}
}
