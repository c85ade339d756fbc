//go:build linux

package launcher

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// TestInvalidSpec: every malformed spec is refused with ErrInvalidSpec or
// ErrUnsupported before anything starts.
func TestInvalidSpec(t *testing.T) {
	_, w := pipe(t)
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	const closedFD = 987
	if _, err := unix.FcntlInt(closedFD, unix.F_GETFD, 0); err != unix.EBADF {
		t.Fatalf("descriptor %d is open; the test needs it closed", closedFD)
	}
	notCgroup := t.TempDir()
	adj, umask := 1001, uint32(0o1000)
	cases := []struct {
		name string
		edit func(*Spec)
		want error
	}{
		{"no process", func(s *Spec) { s.Process = nil }, ErrInvalidSpec},
		{"no args", func(s *Spec) { s.Process.Args = nil }, ErrInvalidSpec},
		{"empty program", func(s *Spec) { s.Process.Args = []string{""} }, ErrInvalidSpec},
		{"NUL in arg", func(s *Spec) { s.Process.Args = append(s.Process.Args, "a\x00b") }, ErrInvalidSpec},
		{"relative cwd", func(s *Spec) { s.Process.Cwd = "tmp" }, ErrInvalidSpec},
		{"empty cwd", func(s *Spec) { s.Process.Cwd = "" }, ErrInvalidSpec},
		{"env without =", func(s *Spec) { s.Process.Env = []string{"FOO"} }, ErrInvalidSpec},
		{"env hidden by extra", func(s *Spec) { s.Process.Env, s.ExtraEnv = []string{"FOO"}, []string{"FOO=1"} }, ErrInvalidSpec},
		{"extra env without name", func(s *Spec) { s.ExtraEnv = []string{"=x"} }, ErrInvalidSpec},
		{"NUL in env", func(s *Spec) { s.ExtraEnv = []string{"A=\x00"} }, ErrInvalidSpec},
		{"duplicate target", func(s *Spec) { s.Files = []FD{{1, w.n}, {1, w.n}} }, ErrInvalidSpec},
		{"negative target", func(s *Spec) { s.Files = []FD{{-1, w.n}} }, ErrInvalidSpec},
		{"negative descriptor", func(s *Spec) { s.Files = []FD{{1, -1}} }, ErrInvalidSpec},
		{"closed descriptor", func(s *Spec) { s.Files = []FD{{1, closedFD}} }, syscall.EBADF},
		{"target at the limit", func(s *Spec) { s.Files = []FD{{int(lim.Max) - 2, w.n}} }, ErrInvalidSpec},
		{"unknown rlimit", func(s *Spec) { s.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_BOGUS"}} }, ErrInvalidSpec},
		{"duplicate rlimit", func(s *Spec) {
			s.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_CORE"}, {Type: "RLIMIT_CORE"}}
		}, ErrInvalidSpec},
		{"soft above hard", func(s *Spec) { s.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_CORE", Soft: 2, Hard: 1}} }, ErrInvalidSpec},
		{"oom_score_adj", func(s *Spec) { s.Process.OOMScoreAdj = &adj }, ErrInvalidSpec},
		{"umask", func(s *Spec) { s.Process.User.Umask = &umask }, ErrInvalidSpec},
		{"block SIGKILL", func(s *Spec) { s.SigMask = SigSetOf(syscall.SIGKILL) }, ErrInvalidSpec},
		{"setsid and setpgid", func(s *Spec) { s.Setsid, s.Setpgid = true, true }, ErrInvalidSpec},
		{"pgid without setpgid", func(s *Spec) { s.Pgid = 1 }, ErrInvalidSpec},
		{"setctty without setsid", func(s *Spec) { s.Setctty = true }, ErrInvalidSpec},
		{"ctty not a target", func(s *Spec) { s.Setsid, s.Setctty, s.Ctty = true, true, 4 }, ErrInvalidSpec},
		{"ctty without setctty", func(s *Spec) { s.Ctty = 1 }, ErrInvalidSpec},
		{"relative cgroup", func(s *Spec) { s.Cgroups = []string{"sys/fs/cgroup/pids"} }, ErrInvalidSpec},
		{"missing cgroup", func(s *Spec) { s.Cgroups = []string{"/sys/fs/cgroup/pids/no-such-cgroup"} }, syscall.ENOENT},
		{"not a cgroup", func(s *Spec) { s.Cgroups = []string{notCgroup} }, ErrInvalidSpec},
		{"cgroup file", func(s *Spec) { s.Cgroups = []string{"/sys/fs/cgroup/pids/cgroup.procs"} }, ErrInvalidSpec},
		{"one hierarchy twice", func(s *Spec) { s.Cgroups = []string{"/sys/fs/cgroup/pids", "/sys/fs/cgroup/pids/"} }, ErrInvalidSpec},
		{"terminal", func(s *Spec) { s.Process.Terminal = true }, ErrUnsupported},
		{"capabilities", func(s *Spec) { s.Process.Capabilities = &specs.LinuxCapabilities{} }, ErrUnsupported},
		{"username", func(s *Spec) { s.Process.User.Username = "nobody" }, ErrUnsupported},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			checkLeaks(t)
			spec := programSpec(t, "true")
			c.edit(&spec)
			p, err := Start(spec)
			if !errors.Is(err, c.want) || p != nil {
				t.Fatalf("Start: %v, %v; want an error wrapping %v", p, err, c.want)
			}
			if c.want != ErrUnsupported && !errors.Is(err, ErrInvalidSpec) {
				t.Errorf("error %v does not wrap ErrInvalidSpec", err)
			}
			requireNoChildren(t)
		})
	}
}

// TestStartFailures: the app cannot be started; Start names the step and
// the errno, and leaves no child and no descriptor behind.
func TestStartFailures(t *testing.T) {
	dir := t.TempDir()
	plain := filepath.Join(dir, "plain")
	if err := os.WriteFile(plain, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) func(*Spec) {
		return func(s *Spec) { s.Process.Args = args }
	}
	cases := []struct {
		name       string
		edit       func(*Spec)
		op, opPath string
		errno      syscall.Errno
	}{
		{"not in PATH", func(s *Spec) {
			s.Process.Args, s.Process.Env = []string{"launcher-no-such-program"}, []string{"PATH=/nonexistent:/usr/bin:/bin"}
		}, "exec", "launcher-no-such-program", syscall.ENOENT},
		{"missing file", run("/nonexistent/program"), "exec", "/nonexistent/program", syscall.ENOENT},
		{"not executable", run(plain), "exec", plain, syscall.EACCES},
		{"only a non-executable in PATH", func(s *Spec) {
			s.Process.Args, s.Process.Env = []string{"plain"}, []string{"PATH=" + dir + ":/nonexistent"}
		}, "exec", "plain", syscall.EACCES},
		{"relative to cwd", func(s *Spec) { s.Process.Args, s.Process.Cwd = []string{"./true"}, dir }, "exec", "./true", syscall.ENOENT},
		{"bad cwd", func(s *Spec) { s.Process.Cwd = "/nonexistent" }, "chdir", "/nonexistent", syscall.ENOENT},
		{"rlimit above nr_open", func(s *Spec) {
			s.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 1 << 40, Hard: 1 << 40}}
		}, "setrlimit", "RLIMIT_NOFILE", syscall.EPERM},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			checkLeaks(t)
			spec := programSpec(t, "true")
			c.edit(&spec)
			p, err := Start(spec)
			var se *StartError
			if !errors.As(err, &se) || se.Op != c.op || se.Path != c.opPath || !errors.Is(err, c.errno) {
				t.Fatalf("Start: %v, %v; want %s %s failing with %v", p, err, c.op, c.opPath, c.errno)
			}
			if !strings.Contains(err.Error(), c.errno.Error()) {
				t.Errorf("message %q does not say %q", err, c.errno.Error())
			}
			requireNoChildren(t)
		})
	}
}

// TestPathSearch: like execvp, a program name is searched in the PATH of the
// app's environment, skipping missing and non-executable candidates; with no
// PATH, /bin:/usr/bin; a name with a slash is relative to Cwd.
func TestPathSearch(t *testing.T) {
	checkLeaks(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "echo"), []byte("not a program"), 0o644); err != nil {
		t.Fatal(err)
	}
	spec := programSpec(t, "echo", "found")
	spec.Process.Env = []string{"PATH=" + dir + ":/nonexistent::/usr/bin:/bin"}
	if got := output(t, spec); got != "found\n" {
		t.Errorf("with PATH: %q, want %q", got, "found\n")
	}
	spec.Process.Env = nil
	if got := output(t, spec); got != "found\n" {
		t.Errorf("without PATH: %q, want %q", got, "found\n")
	}
	spec = programSpec(t, "./echo", "relative")
	spec.Process.Cwd = "/bin"
	if got := output(t, spec); got != "relative\n" {
		t.Errorf("relative to the working directory: %q, want %q", got, "relative\n")
	}
	requireNoChildren(t)
}

// TestTrampolineKilled: a trampoline that dies before exec is an error that
// says so, with its status; nothing is left behind.
func TestTrampolineKilled(t *testing.T) {
	trampolineOnly(t)
	checkLeaks(t)
	setHook(t, func(pid int) { _ = syscall.Kill(pid, syscall.SIGKILL) })
	p, err := Start(programSpec(t, "true"))
	if !errors.Is(err, ErrTrampolineExited) || p != nil || !strings.Contains(err.Error(), "signal: killed") {
		t.Fatalf("Start: %v, %v; want ErrTrampolineExited, killed", p, err)
	}
	requireNoChildren(t)
}
