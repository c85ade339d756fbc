//go:build linux

package launcher

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// TestDirectCloneRefused: when the kernel refuses the direct path's clone3,
// Start uses the trampoline instead, and the app still starts inside every
// cgroup.
func TestDirectCloneRefused(t *testing.T) {
	requireRoot(t)
	checkLeaks(t)
	useMode(t, ModeAuto)
	dirs := []string{makeCgroup(t, "pids"), makeCgroup(t, "unified")}
	tries := 0
	directCloneHook = func() syscall.Errno { tries++; return syscall.EPERM }
	expectTrampoline = true
	t.Cleanup(func() { directCloneHook, expectTrampoline = nil, false })

	spec := helperSpec(t, "report")
	spec.Cgroups = dirs
	rep, p, _ := runReport(t, spec)
	if tries != 1 || p.direct {
		t.Errorf("direct clone3 attempts %d, started directly %v; want 1, false", tries, p.direct)
	}
	for _, dir := range dirs {
		if !inCgroup(rep.Cgroup, dir) {
			t.Errorf("the app was not in %s at its start:\n%s", dir, rep.Cgroup)
		}
	}
	requireNoChildren(t)
}

// TestDirectEverything: one direct start with every feature at once, the
// way the supervisor resumes a session: the app sees all of it.
func TestDirectEverything(t *testing.T) {
	requireRoot(t)
	checkLeaks(t)
	useMode(t, ModeAuto)
	dirs := []string{makeCgroup(t, "pids"), makeCgroup(t, "cpu"), makeCgroup(t, "unified")}
	null := openRaw(t, "/dev/null", unix.O_RDONLY)
	_, out := pipe(t)
	umask, adj := uint32(0o027), 123
	spec := helperSpec(t, "report")
	spec.Files = []FD{{0, null.n}, {1, out.n}, {2, out.n}, {5, null.n}}
	spec.Process.User = specs.User{UID: 0, GID: 0, AdditionalGids: []uint32{5, 6}, Umask: &umask}
	spec.Process.OOMScoreAdj = &adj
	spec.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_CORE", Soft: 0, Hard: 0}}
	spec.ExtraEnv = []string{"LISTEN_FDS=3", "LISTEN_PID=1"}
	spec.ListenPID = true
	spec.PIDEnv = []string{"WATCHDOG_PID"}
	spec.SigMask = SigSetOf(syscall.SIGUSR1)
	spec.Setpgid = true
	spec.Cgroups = dirs
	rep, p, rp := runReport(t, spec)
	if !p.direct {
		t.Fatal("not started directly")
	}
	requireLayout(t, rep, map[int]int{0: null.n, 1: out.n, 2: out.n, 5: null.n, reportTarget: rp.n})
	for _, dir := range dirs {
		if !inCgroup(rep.Cgroup, dir) {
			t.Errorf("the app was not in %s at its start:\n%s", dir, rep.Cgroup)
		}
	}
	pid := strconv.Itoa(rep.Pid)
	for _, want := range []string{"LISTEN_PID=" + pid, "WATCHDOG_PID=" + pid, "LISTEN_FDS=3"} {
		if !strings.Contains(strings.Join(rep.Env, "\n")+"\n", want+"\n") {
			t.Errorf("environment %q lacks %s", rep.Env, want)
		}
	}
	if rep.Pgid != rep.Pid {
		t.Errorf("pgid %d, want a group of its own (%d)", rep.Pgid, rep.Pid)
	}
	requireNoChildren(t)
}

// TestNofileRestored: the app gets the soft RLIMIT_NOFILE its starter was
// started with, not the one the Go runtime raised, by either path. A helper
// started with a low soft limit starts sh -c 'ulimit -Sn' with each mode.
func TestNofileRestored(t *testing.T) {
	checkLeaks(t)
	if _, err := os.Stat("/bin/sh"); err != nil {
		t.Skip("no /bin/sh")
	}
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	if lim.Max < 1024 {
		t.Skipf("hard RLIMIT_NOFILE %d too low to test", lim.Max)
	}
	spec := helperSpec(t, "nofile")
	spec.Process.Env = append(spec.Process.Env, "PATH=/usr/bin:/bin")
	spec.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 512, Hard: lim.Max}}
	got := output(t, spec)
	if want := "trampoline 512\nauto direct 512\n"; got != want {
		t.Errorf("soft limits the apps saw:\n%s\nwant\n%s", got, want)
	}
}

// nofileHelper is the helper of TestNofileRestored.
func nofileHelper() {
	u, err := CurrentUser()
	if err != nil {
		os.Exit(4)
	}
	r, w, err := os.Pipe()
	if err != nil {
		os.Exit(4)
	}
	wfd, err := unix.Dup(int(w.Fd()))
	if err != nil {
		os.Exit(4)
	}
	w.Close()
	for _, m := range []Mode{ModeTrampoline, ModeAuto} {
		SetMode(m)
		p, err := Start(Spec{
			Process: &specs.Process{Args: []string{"sh", "-c", "ulimit -Sn"}, Env: []string{"PATH=/usr/bin:/bin"}, Cwd: "/", User: u},
			Files:   []FD{{Target: 1, FD: wfd}},
		})
		if err != nil {
			fmt.Println("Start:", err)
			os.Exit(5)
		}
		if _, err := p.Wait(); err != nil {
			os.Exit(5)
		}
		how := m.String()
		if _, err := nofileRestore(); err != nil {
			how += " (" + err.Error() + ")" // fails the test
		}
		if p.direct {
			how += " direct"
		}
		fmt.Print(how + " ")
		var b [64]byte
		n, _ := r.Read(b[:])
		os.Stdout.Write(b[:n])
	}
}

// TestModeEnv: MIGRATE_LAUNCHER=trampoline in a binary's environment makes
// it start processes through the trampoline; SetMode changes the mode.
func TestModeEnv(t *testing.T) {
	checkLeaks(t)
	for env, want := range map[string]string{"trampoline": "trampoline", "auto": "auto", "": "auto"} {
		spec := helperSpec(t, "mode")
		if env != "" {
			spec.Process.Env = append(spec.Process.Env, ModeEnv+"="+env)
		}
		if got := output(t, spec); got != want {
			t.Errorf("%s=%q: mode %q, want %q", ModeEnv, env, got, want)
		}
	}
	old := SetMode(ModeTrampoline)
	if got := SetMode(old); got != ModeTrampoline {
		t.Errorf("SetMode returned %v, want the mode it replaced", got)
	}
}
