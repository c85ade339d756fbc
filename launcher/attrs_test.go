//go:build linux

package launcher

import (
	"errors"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// TestEnvironment: Process.Env, then ExtraEnv overriding it, one entry per
// variable, and LISTEN_PID equal to the app's own pid.
func TestEnvironment(t *testing.T) {
	checkLeaks(t)
	spec := helperSpec(t, "report")
	spec.Process.Env = append(spec.Process.Env, "A=1", "B=2", "A=3", "PATH=/nowhere")
	spec.ExtraEnv = []string{"B=extra", "LISTEN_FDS=1", "LISTEN_PID=stale"}
	spec.ListenPID = true
	spec.PIDEnv = []string{"WATCHDOG_PID"}
	rep, p, _ := runReport(t, spec)
	if rep.Pid != p.Pid {
		t.Fatalf("the helper's pid is %d, Start said %d", rep.Pid, p.Pid)
	}
	want := []string{spec.Process.Env[0], "A=3", "B=extra", "PATH=/nowhere", "LISTEN_FDS=1", "LISTEN_PID=" + strconv.Itoa(p.Pid),
		"WATCHDOG_PID=" + strconv.Itoa(p.Pid)}
	if !slices.Equal(rep.Env, want) {
		t.Errorf("environment\n got %q\nwant %q", rep.Env, want)
	}
}

// A PIDEnv name that is no variable name is refused before anything starts.
func TestBadPIDEnv(t *testing.T) {
	checkLeaks(t)
	for _, name := range []string{"", "A=B", "A\x00"} {
		spec := helperSpec(t, "report")
		spec.PIDEnv = []string{name}
		if _, err := Start(spec); !errors.Is(err, ErrInvalidSpec) {
			t.Errorf("PIDEnv %q: %v, want ErrInvalidSpec", name, err)
		}
	}
}

// TestNoListenPID: without ListenPID, LISTEN_PID is what the spec says.
func TestNoListenPID(t *testing.T) {
	checkLeaks(t)
	spec := helperSpec(t, "report")
	spec.ExtraEnv = []string{"LISTEN_PID=7"}
	rep, _, _ := runReport(t, spec)
	if !slices.Contains(rep.Env, "LISTEN_PID=7") {
		t.Errorf("environment %q lacks LISTEN_PID=7", rep.Env)
	}
}

func TestWorkingDirectory(t *testing.T) {
	checkLeaks(t)
	dir, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	spec := helperSpec(t, "report")
	spec.Process.Cwd = dir
	rep, _, _ := runReport(t, spec)
	if rep.Cwd != dir {
		t.Errorf("working directory %q, want %q", rep.Cwd, dir)
	}
}

// TestSignalMaskAndDispositions: the app starts with exactly the mask of
// the spec, and with no signal ignored although the supervisor ignores
// SIGUSR2. cat is the witness: the Go runtime would unblock SIGHUP.
func TestSignalMaskAndDispositions(t *testing.T) {
	checkLeaks(t)
	signal.Ignore(syscall.SIGUSR2)
	t.Cleanup(func() { signal.Reset(syscall.SIGUSR2) })
	self, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	if ign := parseSigSet(t, statusField(t, string(self), "SigIgn")); !ign.Has(syscall.SIGUSR2) {
		t.Fatalf("the test could not ignore SIGUSR2 (SigIgn %#x)", ign)
	}

	spec := programSpec(t, "cat", "/proc/self/status")
	spec.SigMask = SigSetOf(syscall.SIGUSR1, syscall.SIGHUP)
	status := output(t, spec)
	if blk := parseSigSet(t, statusField(t, status, "SigBlk")); blk != spec.SigMask {
		t.Errorf("blocked signals %#x, want %#x", blk, spec.SigMask)
	}
	if ign := parseSigSet(t, statusField(t, status, "SigIgn")); ign != 0 {
		t.Errorf("ignored signals %#x, want none", ign)
	}
}

func parseSigSet(t *testing.T, hex string) SigSet {
	t.Helper()
	v, err := strconv.ParseUint(hex, 16, 64)
	if err != nil {
		t.Fatal(err)
	}
	return SigSet(v)
}

// TestRlimits: soft and hard limits as given, RLIMIT_NOFILE included (the
// Go runtime raises its own soft limit, and syscall.Exec would restore it).
func TestRlimits(t *testing.T) {
	checkLeaks(t)
	spec := programSpec(t, "cat", "/proc/self/limits")
	spec.Process.Rlimits = []specs.POSIXRlimit{
		{Type: "RLIMIT_NOFILE", Soft: 123, Hard: 456},
		{Type: "RLIMIT_FSIZE", Soft: 1 << 20, Hard: 1 << 21},
	}
	limits := output(t, spec)
	for name, want := range map[string][]string{
		"Max open files": {"123", "456"},
		"Max file size":  {"1048576", "2097152"},
	} {
		var got []string
		for line := range strings.Lines(limits) {
			if rest, ok := strings.CutPrefix(line, name); ok {
				got = strings.Fields(rest)[:2]
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: soft and hard %q, want %q", name, got, want)
		}
	}
}

// TestStatusFields: no_new_privs, umask and oom_score_adj as the spec
// says, and no_new_privs off when the spec does not ask for it.
func TestStatusFields(t *testing.T) {
	checkLeaks(t)
	umask, adj := uint32(0o027), 500
	spec := programSpec(t, "sh", "-c", "cat /proc/self/status; echo OOMScoreAdj: $(cat /proc/self/oom_score_adj)")
	spec.Process.NoNewPrivileges = true
	spec.Process.User.Umask = &umask
	spec.Process.OOMScoreAdj = &adj
	status := output(t, spec)
	for field, want := range map[string]string{"NoNewPrivs": "1", "Umask": "0027", "OOMScoreAdj": "500"} {
		if got := statusField(t, status, field); got != want {
			t.Errorf("%s %s, want %s", field, got, want)
		}
	}

	status = output(t, programSpec(t, "cat", "/proc/self/status"))
	if got := statusField(t, status, "NoNewPrivs"); got != "0" {
		t.Errorf("NoNewPrivs %s without NoNewPrivileges, want 0", got)
	}
}

// TestCredentials: uid, gid and supplementary groups switch as the spec
// says, real, effective and saved alike.
func TestCredentials(t *testing.T) {
	requireRoot(t)
	checkLeaks(t)
	spec := programSpec(t, "cat", "/proc/self/status")
	spec.Process.User = specs.User{UID: 65534, GID: 65534, AdditionalGids: []uint32{100, 65534}}
	status := output(t, spec)
	for field, want := range map[string]string{
		"Uid":    "65534 65534 65534 65534",
		"Gid":    "65534 65534 65534 65534",
		"Groups": "100 65534",
	} {
		if got := strings.Join(strings.Fields(statusField(t, status, field)), " "); got != want {
			t.Errorf("%s %q, want %q", field, got, want)
		}
	}
}

// TestSessionAndGroup: Setsid makes the app a session leader; Setpgid puts
// it in a new group or in an existing one.
func TestSessionAndGroup(t *testing.T) {
	checkLeaks(t)
	ownSid, _ := unix.Getsid(0)
	cases := []struct {
		name      string
		set       func(*Spec)
		sid, pgid func(pid int) int
	}{
		{"setsid", func(s *Spec) { s.Setsid = true }, same, same},
		{"new group", func(s *Spec) { s.Setpgid = true }, fixed(ownSid), same},
		{"existing group", func(s *Spec) { s.Setpgid, s.Pgid = true, syscall.Getpgrp() }, fixed(ownSid), fixed(syscall.Getpgrp())},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			spec := helperSpec(t, "report")
			c.set(&spec)
			rep, _, _ := runReport(t, spec)
			if rep.Sid != c.sid(rep.Pid) || rep.Pgid != c.pgid(rep.Pid) {
				t.Errorf("session %d, group %d; want %d, %d", rep.Sid, rep.Pgid, c.sid(rep.Pid), c.pgid(rep.Pid))
			}
		})
	}
}

func same(pid int) int           { return pid }
func fixed(id int) func(int) int { return func(int) int { return id } }
