//go:build linux

package rshell_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/migrate-run/migrate/examples/rshell/wire"
	"go.uber.org/goleak"
	"golang.org/x/sys/unix"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "leaked goroutines:", err)
			code = 1
		}
	}
	os.Exit(code)
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
	if c2.OldPID != fresh {
		t.Errorf("the second continuation's old pid is %d, want %d", c2.OldPID, fresh)
	}
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

// TestNoOutputLostAcrossSuspends suspends and resumes a session three
// times while its shell writes more than the connection's buffers hold to
// a client that reads slowly (a 4 KiB receive buffer): the server stops
// with a frame half-written and carries the rest in its continuation. The
// client gets every line once, in order, then the exit status.
func TestNoOutputLostAcrossSuspends(t *testing.T) {
	s := startService(t, "--shell", "/bin/sh", "--login=false")
	const lines = 1500000 // 12 MB, beyond the server's send buffer (at most net.ipv4.tcp_wmem's 4 MB)
	d := net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		var err error
		c.Control(func(fd uintptr) { err = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, 4096) })
		return err
	}}
	conn, err := d.Dial("tcp", s.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write(wire.AppendHello(nil, wire.Hello{Command: fmt.Sprintf("seq 1 %d", lines)})); err != nil {
		t.Fatal(err)
	}
	out := &lineCheck{r: wire.NewReader(conn)}
	held := 0
	for i := range 3 {
		sess := s.session()
		if err := stuckSending(s.addr, conn.LocalAddr().String()); err != nil {
			t.Fatal(err)
		}
		c := s.suspend(sess.ID)
		st := stored(t, c)
		killAtCleanup(t, st.Shell)
		t.Logf("suspend %d: %d bytes held for the client, store %d B raw, %d B compressed", i, len(st.ToClient), c.StoreRawBytes, c.StoreCompressedBytes)
		if len(st.ToClient) > 0 {
			held++
		}
		s.resume(c.ID)
		if err := out.read(50000); err != nil {
			t.Fatal(err)
		}
	}
	if err := out.read(lines - out.next + 1); err != nil {
		t.Fatal(err)
	}
	if e, err := out.exit(); err != nil || e != (wire.Exit{How: wire.Exited, Code: 0}) {
		t.Errorf("after the last line: %+v, %v; want exit status 0", e, err)
	}
	if held != 3 {
		t.Errorf("%d of 3 suspends caught output in hand, all should have", held)
	}
}

// stuckSending waits until the server's end of the connection from
// client to server has data queued that does not move: the server is
// blocked writing. /proc/net/tcp is polled: no event says so.
func stuckSending(server, client string) error {
	want := procAddr(server) + " " + procAddr(client)
	last, same := "", 0
	for range 1000 {
		queue := ""
		b, err := os.ReadFile("/proc/net/tcp")
		if err != nil {
			return err
		}
		for _, line := range strings.Split(string(b), "\n") {
			if f := strings.Fields(line); len(f) > 4 && f[1]+" "+f[2] == want {
				queue, _, _ = strings.Cut(f[4], ":")
			}
		}
		if queue != "" && queue != "00000000" && queue == last {
			if same++; same == 5 {
				return nil
			}
		} else {
			same = 0
		}
		last = queue
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("the server's send queue to %s never settled (last %s)", client, last)
}

// procAddr writes an IPv4 HOST:PORT as /proc/net/tcp does: the address's
// bytes as a little-endian hex word, the port in hex.
func procAddr(hostport string) string {
	ap := netip.MustParseAddrPort(hostport)
	a := ap.Addr().As4()
	return fmt.Sprintf("%02X%02X%02X%02X:%04X", a[3], a[2], a[1], a[0], ap.Port())
}

// lineCheck reads data frames of numbered lines ("N\r\n" from 1 on).
type lineCheck struct {
	r    *wire.Reader
	buf  []byte
	next int
}

// read checks the next n lines.
func (lc *lineCheck) read(n int) error {
	if lc.next == 0 {
		lc.next = 1
	}
	for ; n > 0; n-- {
		for bytes.IndexByte(lc.buf, '\n') < 0 {
			f, err := lc.r.Next()
			if err != nil {
				return fmt.Errorf("after line %d: %w", lc.next-1, err)
			}
			if f.Type != wire.TypeData {
				return fmt.Errorf("after line %d: a %v frame", lc.next-1, f.Type)
			}
			lc.buf = append(lc.buf, f.Payload...)
		}
		i := bytes.IndexByte(lc.buf, '\n')
		if line := string(lc.buf[:i+1]); line != strconv.Itoa(lc.next)+"\r\n" {
			return fmt.Errorf("line %q, want %d", line, lc.next)
		}
		lc.buf = lc.buf[i+1:]
		lc.next++
	}
	return nil
}

// exit reads the exit frame, which must come next.
func (lc *lineCheck) exit() (wire.Exit, error) {
	f, err := lc.r.Next()
	if err != nil {
		return wire.Exit{}, err
	}
	if f.Type != wire.TypeExit || len(lc.buf) > 0 {
		return wire.Exit{}, fmt.Errorf("a %v frame after %q, want exit", f.Type, lc.buf)
	}
	return wire.ParseExit(f.Payload)
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
