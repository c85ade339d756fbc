//go:build linux

package pty

import (
	"errors"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
	"golang.org/x/sys/unix"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// checkNoLeak fails the test if it ends with more descriptors open than it
// started with.
func checkNoLeak(t *testing.T) {
	before := openFDs(t)
	t.Cleanup(func() {
		if after := openFDs(t); after != before {
			t.Errorf("%d descriptors open after the test, %d before", after, before)
		}
	})
}

func open(t *testing.T) (master, slave *os.File) {
	t.Helper()
	master, slave, err := Open()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { master.Close(); slave.Close() })
	return master, slave
}

func fdFlags(t *testing.T, f *os.File) (cloexec, nonblock bool) {
	t.Helper()
	var fdf, fl int
	err := control(f, func(fd int) error {
		var err error
		if fdf, err = unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err != nil {
			return err
		}
		fl, err = unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return fdf&unix.FD_CLOEXEC != 0, fl&unix.O_NONBLOCK != 0
}

func TestOpenGivesAPollableMasterAndABlockingSlave(t *testing.T) {
	checkNoLeak(t)
	master, slave := open(t)
	if c, nb := fdFlags(t, master); !c || !nb {
		t.Errorf("master close-on-exec %v, non-blocking %v; want both", c, nb)
	}
	if c, nb := fdFlags(t, slave); !c || nb {
		t.Errorf("slave close-on-exec %v, non-blocking %v; want close-on-exec, blocking", c, nb)
	}
	// A read with nothing to read ends at its deadline: the master is in
	// the poller.
	master.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	if _, err := master.Read(make([]byte, 1)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("read of an idle master: %v, want the deadline", err)
	}
	n, err := Index(master)
	if err != nil || slave.Name() != "/dev/pts/"+strconv.Itoa(n) {
		t.Errorf("slave %s, index %d (%v)", slave.Name(), n, err)
	}
	if c, err := EOFChar(master); err != nil || c != 4 {
		t.Errorf("end-of-file character %#x, %v; want ^D", c, err)
	}
}

func TestSizeSetOnTheMasterIsTheSlaves(t *testing.T) {
	checkNoLeak(t)
	master, slave := open(t)
	if err := SetSize(master, 33, 101); err != nil {
		t.Fatal(err)
	}
	if r, c, err := Size(slave); err != nil || r != 33 || c != 101 {
		t.Errorf("slave size %dx%d, %v; want 33x101", r, c, err)
	}
}

func TestAdoptTakesAMasterAndLeavesAnythingElse(t *testing.T) {
	checkNoLeak(t)
	master, _ := open(t)
	var dup int
	control(master, func(fd int) (err error) { dup, err = unix.Dup(fd); return err })
	unix.SetNonblock(dup, false) // the flag is the open file's: it flips the master's too
	f, err := Adopt(dup)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if c, nb := fdFlags(t, f); !c || !nb {
		t.Errorf("adopted master close-on-exec %v, non-blocking %v; want both", c, nb)
	}
	f.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	if _, err := f.Read(make([]byte, 1)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("read of the adopted master: %v, want the deadline", err)
	}

	var p [2]int
	if err := unix.Pipe(p[:]); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(p[0])
	defer unix.Close(p[1])
	if _, err := Adopt(p[0]); !errors.Is(err, ErrNotPTY) {
		t.Errorf("adopt a pipe: %v, want ErrNotPTY", err)
	}
	if fl, err := unix.FcntlInt(uintptr(p[0]), unix.F_GETFD, 0); err != nil || fl&unix.FD_CLOEXEC != 0 {
		t.Errorf("the pipe after a refused adopt: flags %#x, %v; want it open and untouched", fl, err)
	}
}

// TestAShellOnTheSlave runs /bin/sh on the slave as its controlling
// terminal: what is typed reaches it, the size set on the master is what
// stty sees, its controlling terminal is the one TTYNr names, and once it
// exited the master reads EIO.
func TestAShellOnTheSlave(t *testing.T) {
	checkNoLeak(t)
	master, slave := open(t)
	if err := SetSize(master, 24, 80); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("/bin/sh")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.Env = []string{"PS1=$ ", "PATH=/usr/bin:/bin"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	slave.Close()
	out := &reader{t: t, f: master}

	write(t, master, "echo $((6*7))\n")
	out.until("42\r\n")
	write(t, master, "stty size\n")
	out.until("24 80\r\n")
	if err := SetSize(master, 33, 101); err != nil {
		t.Fatal(err)
	}
	write(t, master, "stty size\n")
	out.until("33 101\r\n")

	index, _ := Index(master)
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(cmd.Process.Pid) + "/stat")
	if err != nil {
		t.Fatal(err)
	}
	fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
	if fields[4] != strconv.FormatUint(TTYNr(index), 10) || fields[3] != strconv.Itoa(cmd.Process.Pid) {
		t.Errorf("the shell's session %s and tty_nr %s; want itself and %d", fields[3], fields[4], TTYNr(index))
	}

	write(t, master, "exit 3\n")
	if err := cmd.Wait(); cmd.ProcessState.ExitCode() != 3 {
		t.Errorf("the shell ended with %v, want exit status 3", err)
	}
	if err := out.drain(); !errors.Is(err, syscall.EIO) {
		t.Errorf("reading the master after the shell exited: %v, want EIO", err)
	}
}

func write(t *testing.T, f *os.File, s string) {
	t.Helper()
	f.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
}

// reader reads a master's output.
type reader struct {
	t    *testing.T
	f    *os.File
	seen string
}

// until reads until the output so far contains s, and forgets the output
// up to its end.
func (r *reader) until(s string) {
	r.t.Helper()
	r.f.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 4096)
	for !strings.Contains(r.seen, s) {
		n, err := r.f.Read(buf)
		r.seen += string(buf[:n])
		if err != nil {
			r.t.Fatalf("waiting for %q: %v; output %q", s, err, r.seen)
		}
	}
	r.seen = r.seen[strings.Index(r.seen, s)+len(s):]
}

// drain reads to the end and returns the error that ended it.
func (r *reader) drain() error {
	r.f.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 4096)
	for {
		if _, err := r.f.Read(buf); err != nil {
			return err
		}
	}
}
