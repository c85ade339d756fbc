//go:build linux

package rshell_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/migrate-run/migrate/examples/rshell/pty"
)

// terminal is an rshell client on a pseudo-terminal of the test's, as a
// user's terminal emulator runs it.
type terminal struct {
	t      *testing.T
	master *os.File
	cmd    *exec.Cmd
	exited chan struct{}
	read   chan struct{} // closed when the reader ended

	mu   sync.Mutex
	seen []byte        // output not yet consumed by expect
	all  []byte        // all output
	more chan struct{} // a signal after each read
}

// startTerminal runs rshell --addr addr args... on a fresh pty of rows x
// cols, as its controlling terminal.
func startTerminal(t *testing.T, bin, addr string, rows, cols uint16, args ...string) *terminal {
	t.Helper()
	master, slave, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer slave.Close()
	if err := pty.SetSize(master, rows, cols); err != nil {
		t.Fatal(err)
	}
	tm := &terminal{t: t, master: master, exited: make(chan struct{}), read: make(chan struct{}), more: make(chan struct{}, 1)}
	tm.cmd = exec.Command(filepath.Join(bin, "rshell"), append([]string{"--addr", addr}, args...)...)
	tm.cmd.Env = []string{"TERM=xterm-256color", "PATH=/usr/bin:/bin"}
	tm.cmd.Stdin, tm.cmd.Stdout, tm.cmd.Stderr = slave, slave, slave
	tm.cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := tm.cmd.Start(); err != nil {
		master.Close()
		t.Fatal(err)
	}
	go func() { tm.cmd.Wait(); close(tm.exited) }()
	go tm.reader()
	t.Cleanup(func() {
		tm.cmd.Process.Kill()
		<-tm.exited
		master.Close()
		<-tm.read
	})
	return tm
}

func (tm *terminal) reader() {
	defer close(tm.read)
	buf := make([]byte, 32<<10)
	for {
		n, err := tm.master.Read(buf)
		tm.mu.Lock()
		tm.seen = append(tm.seen, buf[:n]...)
		tm.all = append(tm.all, buf[:n]...)
		tm.mu.Unlock()
		select {
		case tm.more <- struct{}{}:
		default:
		}
		if err != nil {
			return // EIO once the client is gone, or the master closed
		}
	}
}

// expect waits until the output shows a match of pattern (a regular
// expression), consumes it up to the match's end, and returns the
// submatches.
func (tm *terminal) expect(pattern string) []string {
	tm.t.Helper()
	re := regexp.MustCompile(pattern)
	timeout := time.After(20 * time.Second)
	for {
		tm.mu.Lock()
		m := re.FindSubmatchIndex(tm.seen)
		var sub []string
		for i := 0; m != nil && i < len(m); i += 2 {
			sub = append(sub, string(tm.seen[m[i]:m[i+1]]))
		}
		if m != nil {
			tm.seen = tm.seen[m[1]:]
		}
		seen := string(tm.seen)
		tm.mu.Unlock()
		if m != nil {
			return sub
		}
		select {
		case <-tm.more:
		case <-timeout:
			tm.t.Fatalf("the terminal did not show %q within 20s; it shows %q", pattern, seen)
		}
	}
}

// transcript returns all the terminal showed.
func (tm *terminal) transcript() string {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	return string(tm.all)
}

// rest returns the output not consumed yet, and consumes it.
func (tm *terminal) rest() string {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	s := string(tm.seen)
	tm.seen = nil
	return s
}

// typeLine types s and Enter.
func (tm *terminal) typeLine(s string) {
	tm.t.Helper()
	if _, err := tm.master.WriteString(s + "\r"); err != nil {
		tm.t.Fatal(err)
	}
}

// resize changes the terminal's size: the kernel sends rshell SIGWINCH.
func (tm *terminal) resize(rows, cols uint16) {
	tm.t.Helper()
	if err := pty.SetSize(tm.master, rows, cols); err != nil {
		tm.t.Fatal(err)
	}
}

// wait waits for rshell to exit and returns its status.
func (tm *terminal) wait() int {
	tm.t.Helper()
	select {
	case <-tm.exited:
		return tm.cmd.ProcessState.ExitCode()
	case <-time.After(20 * time.Second):
		tm.t.Fatalf("rshell did not exit within 20s; the terminal shows %q", tm.rest())
		return -1
	}
}

// killAtCleanup kills pid at the end of the test if it still runs: a
// shell the test failed to end.
func killAtCleanup(t *testing.T, pid int) {
	t.Cleanup(func() { syscall.Kill(pid, syscall.SIGKILL) })
}

// gone waits until process pid has exited (no event tells of a process
// that is not one's child).
func gone(pid int) error {
	deadline := time.Now().Add(20 * time.Second)
	for {
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			return nil
		}
		if zombie(pid) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("process %d still runs after 20s", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// zombie reports whether pid has exited and awaits its reaping.
func zombie(pid int) bool {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	return len(f) > 0 && f[0] == "Z"
}

// fds lists the descriptors of process pid: number -> what it is.
func fds(t *testing.T, pid int) map[int]string {
	t.Helper()
	dir := "/proc/" + strconv.Itoa(pid) + "/fd"
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	m := map[int]string{}
	for _, e := range ents {
		n, _ := strconv.Atoi(e.Name())
		m[n], _ = os.Readlink(filepath.Join(dir, e.Name()))
	}
	return m
}
