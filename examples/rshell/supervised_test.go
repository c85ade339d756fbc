//go:build linux

package rshell_test

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	// The netpoller opens its descriptors on first use, and keeps them.
	if ln, err := net.Listen("tcp", "127.0.0.1:0"); err == nil {
		ln.Close()
	}
	before := openFDs()
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "leaked goroutines:", err)
			code = 1
		} else if after := openFDs(); after != before {
			fmt.Fprintf(os.Stderr, "%d descriptors open after the tests, %d before\n", after, before)
			code = 1
		}
	}
	os.Exit(code)
}

func openFDs() int {
	ents, _ := os.ReadDir("/proc/self/fd")
	return len(ents)
}

// state is the part of rshell-server's stored state the tests read.
type state struct {
	Shell    int    `json:"shell"`
	ToClient []byte `json:"toClient"`
}

func stored(t *testing.T, c contInfo) state {
	t.Helper()
	for _, e := range c.Store {
		if e.Key == "rshell" {
			var st state
			if err := json.Unmarshal(e.Value, &st); err != nil {
				t.Fatalf("the stored state %q: %v", e.Value, err)
			}
			return st
		}
	}
	t.Fatalf("no rshell key in the store %+v", c.Store)
	return state{}
}

func needBash(t *testing.T) {
	if _, err := os.Stat("/bin/bash"); err != nil {
		t.Skip("no /bin/bash")
	}
}

// TestSuspendAndResumeALiveShell is the paper's sshd experiment on a real
// terminal: an interactive login shell under rshell-server, driven through
// rshell on a pty, has a variable, a working directory and a background
// job; its session is suspended (the server exits, the supervisor holds
// the connection, the pty master and the status pipe) and resumed in a
// fresh server, twice. What was typed and the window size set while it was
// suspended arrive once; the variable, the cwd, the job and the shell
// itself are the same; the shell's exit status reaches the client.
func TestSuspendAndResumeALiveShell(t *testing.T) {
	needBash(t)
	s := startService(t, "--shell", "/bin/bash")
	tm := startTerminal(t, s.bin, s.addr, 40, 100)
	work := t.TempDir()

	tm.typeLine("echo READY-$((6*7))")
	tm.expect("READY-42")
	tm.typeLine("cd " + work)
	tm.typeLine("V=kept-value")
	tm.typeLine("sleep 1000 &")
	tm.typeLine("echo SHELL-$$-JOB-$!.")
	m := tm.expect(`SHELL-(\d+)-JOB-(\d+)\.`)
	shell, _ := strconv.Atoi(m[1])
	job, _ := strconv.Atoi(m[2])
	killAtCleanup(t, shell)
	killAtCleanup(t, job)
	tm.typeLine("stty size")
	tm.expect("40 100")

	sess := s.session()
	active := fds(t, sess.PID)
	c := s.suspend(sess.ID)
	t.Logf("active server: %d descriptors %v", len(active), active)
	t.Logf("continuation: %d descriptors in it, %d held after collapse; store %d B raw, %d B compressed",
		c.FDsBefore, c.FDsAfter, c.StoreRawBytes, c.StoreCompressedBytes)
	checkContinuation(t, c, sess.PID)
	if err := gone(sess.PID); err != nil {
		t.Fatalf("the suspended server: %v", err)
	}
	for _, pid := range []int{shell, job} {
		if err := syscall.Kill(pid, 0); err != nil || zombie(pid) {
			t.Fatalf("process %d of the session is gone while suspended: %v", pid, err)
		}
	}

	// Typed and resized while no server runs: it waits in the
	// connection.
	tm.typeLine("echo TYPED-$((2+3))")
	tm.resize(50, 120)
	fresh := s.resume(c.ID)
	if fresh == sess.PID {
		t.Errorf("resumed in the old server's pid %d", fresh)
	}
	tm.expect("TYPED-5")
	tm.typeLine("stty size")
	tm.expect("50 120")
	tm.typeLine(`echo "V=[$V] CWD=[$PWD] SHELL=[$$]"`)
	tm.expect(regexp.QuoteMeta(fmt.Sprintf("V=[kept-value] CWD=[%s] SHELL=[%d]", work, shell)))
	tm.typeLine("jobs -l")
	tm.expect(fmt.Sprintf(`%d Running +sleep 1000`, job))

	// Again, from the fresh server.
	sess2 := s.session()
	if sess2.PID != fresh {
		t.Errorf("the session is served by pid %d, want the fresh %d", sess2.PID, fresh)
	}
	c2 := s.suspend(sess2.ID)
	checkContinuation(t, c2, fresh) // the fresh server hands over what it was given
	s.resume(c2.ID)
	tm.typeLine("echo AGAIN-$((1+1))")
	tm.expect("AGAIN-2")

	tm.typeLine("kill %1; exit 7")
	if code := tm.wait(); code != 7 {
		t.Errorf("rshell exited %d, want the shell's 7; the terminal shows %q", code, tm.rest())
	}
	if n := strings.Count(tm.transcript(), "TYPED-5"); n != 1 {
		t.Errorf("what was typed while suspended ran %d times, want once", n)
	}
	for _, pid := range []int{shell, job} {
		if err := gone(pid); err != nil {
			t.Error(err)
		}
	}
}

// checkContinuation checks a session's continuation: the connection at
// 0, 1 (inetd style) and its own number, the pty master and the status
// pipe — five descriptors, three kernel objects held.
func checkContinuation(t *testing.T, c contInfo, oldPID int) {
	t.Helper()
	if c.State != "suspended" || c.OldPID != oldPID {
		t.Errorf("continuation %s is %s from pid %d, want suspended from %d", c.ID, c.State, c.OldPID, oldPID)
	}
	var roles []string
	for _, sl := range c.Slots {
		roles = append(roles, fmt.Sprintf("%d:%s#%d", sl.Number, sl.Role, sl.Held))
	}
	got := strings.Join(roles, " ")
	want := regexp.MustCompile(`^0:conn#0 1:conn#0 \d+:session#0 \d+:pty#1 \d+:pipe#2$`)
	if c.FDsBefore != 5 || c.FDsAfter != 3 || !want.MatchString(got) {
		t.Errorf("continuation of %d descriptors, %d held, slots %s; want 5, 3: the connection at 0, 1 and its own number, the pty, the pipe",
			c.FDsBefore, c.FDsAfter, got)
	}
}

// TestShellEndsWhileSuspended lets the shell exit while no server runs:
// the resumed server, not its parent, learns its status from the pipe the
// continuation carried, and the client gets its last words and status.
func TestShellEndsWhileSuspended(t *testing.T) {
	s := startService(t, "--shell", "/bin/sh", "--login=false")
	ready := filepath.Join(t.TempDir(), "ready")
	// The shell waits for the test to create ready, then says its last
	// words and exits.
	cmd := exec.Command(filepath.Join(s.bin, "rshell"), "--addr", s.addr,
		fmt.Sprintf("while [ ! -e %s ]; do sleep 0.01; done; echo last words; exit 3", ready))
	var stdout strings.Builder
	cmd.Stdout = &stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	c := s.suspend(s.session().ID)
	shell := stored(t, c).Shell
	killAtCleanup(t, shell)
	if err := os.WriteFile(ready, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := gone(shell); err != nil {
		t.Fatal(err)
	}
	s.resume(c.ID)
	err := cmd.Wait()
	if cmd.ProcessState.ExitCode() != 3 || !strings.HasSuffix(stdout.String(), "last words\r\n") {
		t.Errorf("rshell: %v, output %q; want exit 3 after the last words", err, stdout.String())
	}
}
