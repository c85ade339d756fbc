//go:build linux

package launcher

import (
	"errors"
	"os"
	"strconv"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// TestNotReaped: launcher does not reap the process behind the caller's
// back: once it has exited it stays a zombie until the caller waits, and
// Wait then reports its exit status.
func TestNotReaped(t *testing.T) {
	checkLeaks(t)
	spec := helperSpec(t, "exit")
	spec.Process.Env = append(spec.Process.Env, exitEnv+"=7")
	p := start(t, spec)
	var info unix.Siginfo
	if err := unix.Waitid(unix.P_PID, p.Pid, &info, unix.WEXITED|unix.WNOWAIT, nil); err != nil {
		t.Fatalf("the exited child cannot be waited for: %v", err)
	}
	ps, err := p.Wait()
	if err != nil || ps.ExitCode() != 7 {
		t.Fatalf("Wait: %v, %v; want exit status 7", ps, err)
	}
	requireNoChildren(t)
}

// TestSignal: Signal reaches the process; after Wait it reports the process
// done rather than reaching a stranger.
func TestSignal(t *testing.T) {
	checkLeaks(t)
	r, _ := pipe(t)
	spec := helperSpec(t, "wait")
	spec.Files = []FD{{0, r.n}} // no writer in the child: it waits for our end
	p := start(t, spec)
	if err := p.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	ps, err := p.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if ws := ps.Sys().(syscall.WaitStatus); !ws.Signaled() || ws.Signal() != syscall.SIGTERM {
		t.Errorf("child ended with %v, want killed by SIGTERM", ps)
	}
	if err := p.Signal(syscall.SIGTERM); !errors.Is(err, os.ErrProcessDone) {
		t.Errorf("Signal after Wait: %v, want os.ErrProcessDone", err)
	}
	requireNoChildren(t)
}

// TestRelease: Release frees the Process without waiting; the caller reaps
// by pid.
func TestRelease(t *testing.T) {
	checkLeaks(t)
	p, err := Start(helperSpec(t, "exit"))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Release(); err != nil {
		t.Fatal(err)
	}
	var ws syscall.WaitStatus
	if _, err := syscall.Wait4(p.Pid, &ws, 0, nil); err != nil || !ws.Exited() || ws.ExitStatus() != 0 {
		t.Errorf("wait4: %v, %v; want exit status 0", ws, err)
	}
	requireNoChildren(t)
}

// TestControllingTerminal: Setsid with Setctty makes the pty at target 0
// the app's controlling terminal.
func TestControllingTerminal(t *testing.T) {
	checkLeaks(t)
	ptmx, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals: %v", err)
	}
	newRawFD(t, ptmx, "ptmx")
	unlock := 0
	if err := unix.IoctlSetPointerInt(ptmx, unix.TIOCSPTLCK, unlock); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(ptmx, unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	slave := openRaw(t, "/dev/pts/"+strconv.Itoa(n), unix.O_RDWR|unix.O_NOCTTY)
	var st unix.Stat_t
	if err := unix.Fstat(slave.n, &st); err != nil {
		t.Fatal(err)
	}
	major, minor := unix.Major(st.Rdev), unix.Minor(st.Rdev)
	want := int(minor&0xff | major<<8 | (minor&^0xff)<<12) // tty_nr encoding in /proc/<pid>/stat

	spec := helperSpec(t, "report")
	spec.Files = []FD{{0, slave.n}}
	spec.Setsid, spec.Setctty, spec.Ctty = true, true, 0
	rep, _, _ := runReport(t, spec)
	if rep.TTY != want {
		t.Errorf("controlling terminal %#x, want %#x (/dev/pts/%d)", rep.TTY, want, n)
	}
}
