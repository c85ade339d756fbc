package supervisor

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// shApp is an app running a shell script, with the test's stderr.
func shApp(name, script string) AppSpec {
	return AppSpec{Name: name, Args: []string{"/bin/sh", "-c", script}, Cwd: "/",
		Env: []string{"PATH=/usr/bin:/bin"}, Stdio: [3]int{-1, -1, 2}}
}

// waitApp waits until cond holds for app name's info, looking again at
// every change of its state; it fails the test after 20 s.
func (h *harness) waitApp(name string, what string, cond func(AppInfo) bool) AppInfo {
	h.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		h.s.mu.Lock()
		a := h.s.apps[name]
		var changed <-chan struct{}
		if a != nil {
			changed = a.run.changes()
		}
		h.s.mu.Unlock()
		info, err := h.s.Status(name)
		if err == nil && cond(info) {
			return info
		}
		left := time.Until(deadline)
		if left <= 0 {
			h.t.Fatalf("app %s: no %s; last %+v (%v)", name, what, info, err)
		}
		tm := time.NewTimer(min(left, 50*time.Millisecond)) // process lists change without a state change
		select {
		case <-changed:
		case <-tm.C:
		}
		tm.Stop()
	}
}

func TestRestartOnFailureBacksOffAndHitsTheStartLimit(t *testing.T) {
	h := newHarness(t, nil)
	spec := shApp("flaky", "exit 3")
	spec.Restart = RestartPolicy{Policy: RestartOnFailure, Delay: 20 * time.Millisecond, MaxDelay: 80 * time.Millisecond,
		Burst: 6, Interval: time.Minute}
	a, err := h.s.StartApp(spec)
	if err != nil {
		t.Fatal(err)
	}
	info := h.waitApp("flaky", "start limit", func(i AppInfo) bool { return i.State == StateFailed })
	if info.Result != ResultStartLimit || info.Restarts != 5 || info.Exit == nil || info.Exit.Code != 3 {
		t.Fatalf("after the start limit: %+v, want failed (start-limit) after 5 restarts, exit 3", info)
	}
	h.s.mu.Lock()
	starts := append([]time.Time(nil), a.run.starts...)
	h.s.mu.Unlock()
	if len(starts) != 6 {
		t.Fatalf("%d starts recorded, want 6", len(starts))
	}
	// Each gap is at least the doubled delay, capped: 20, 40, 80, 80, 80 ms.
	for i := 1; i < len(starts); i++ {
		want := min(20*time.Millisecond<<(i-1), 80*time.Millisecond)
		if gap := starts[i].Sub(starts[i-1]); gap < want {
			t.Errorf("restart %d came %v after the start before, want at least %v", i, gap, want)
		}
	}
	select {
	case <-a.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("a failed app is not done")
	}
}

func TestRestartPolicies(t *testing.T) {
	h := newHarness(t, nil)
	for _, c := range []struct {
		policy, script string
		want           string // state once it settles
		restarts       bool
	}{
		{RestartNo, "exit 1", StateFailed, false},
		{RestartNo, "exit 0", StateExited, false},
		{RestartOnFailure, "exit 0", StateExited, false},
		{RestartOnFailure, "kill -9 $$", StateFailed, true},
		{RestartAlways, "exit 0", StateFailed, true}, // until the start limit
	} {
		name := strings.ReplaceAll(c.policy+"-"+strings.Fields(c.script)[0]+strings.Fields(c.script)[1], " ", "")
		spec := shApp(name, c.script)
		spec.Restart = RestartPolicy{Policy: c.policy, Delay: time.Millisecond, MaxDelay: time.Millisecond, Burst: 3, Interval: time.Minute}
		if _, err := h.s.StartApp(spec); err != nil {
			t.Fatal(err)
		}
		info := h.waitApp(name, c.want, func(i AppInfo) bool { return i.Done })
		if info.State != c.want || (info.Restarts > 0) != c.restarts {
			t.Errorf("%s with %q: state %s (%s) after %d restarts, want %s, restarted %v",
				c.policy, c.script, info.State, info.Result, info.Restarts, c.want, c.restarts)
		}
	}
}

func TestStopSignalAndTimeout(t *testing.T) {
	h := newHarness(t, nil)
	// The script leaves on SIGINT with status 7; SIGTERM would end it 143.
	spec := shApp("polite", `trap "exit 7" INT; echo up >&2; while :; do sleep 1 & wait $!; done`)
	spec.StopSignal = unix.SIGINT
	a, err := h.s.StartApp(spec)
	if err != nil {
		t.Fatal(err)
	}
	waitProcCount(t, h.s, a, 2) // the shell and its sleep
	info, err := h.s.StopService("polite")
	if err != nil {
		t.Fatal(err)
	}
	if info.State != StateStopped || info.Exit == nil || info.Exit.Code != 7 {
		t.Fatalf("stopped with SIGINT: %+v, want stopped, exit 7", info)
	}

	spec = shApp("stubborn", `trap "" TERM; while :; do sleep 1; done`)
	spec.StopTimeout = 300 * time.Millisecond
	a, err = h.s.StartApp(spec)
	if err != nil {
		t.Fatal(err)
	}
	waitProcCount(t, h.s, a, 2)
	begin := time.Now()
	info, err = h.s.StopService("stubborn")
	took := time.Since(begin)
	if err != nil {
		t.Fatal(err)
	}
	if info.Exit == nil || info.Exit.Signal != "SIGKILL" || took < 300*time.Millisecond {
		t.Fatalf("a process ignoring SIGTERM: %+v after %v, want killed by SIGKILL after the 300ms timeout", info, took)
	}
}

// waitProcCount waits until the app has at least n live processes.
func waitProcCount(t *testing.T, s *Supervisor, a *App, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for len(s.liveProcs(a)) < n {
		if time.Now().After(deadline) {
			t.Fatalf("app %s has %d processes, want %d", a.name, len(s.liveProcs(a)), n)
		}
		time.Sleep(10 * time.Millisecond) // polling /proc: the kernel gives no event for a fork
	}
}

func TestOperatorRestartStartsAgainAndResetsCounters(t *testing.T) {
	h := newHarness(t, nil)
	spec := shApp("svc", "while :; do sleep 1; done")
	spec.Restart = DefaultRestart(RestartOnFailure)
	a, err := h.s.StartApp(spec)
	if err != nil {
		t.Fatal(err)
	}
	first := h.waitApp("svc", "running", func(i AppInfo) bool { return i.State == StateRunning && i.PID > 0 })
	info, err := h.s.RestartService("svc")
	if err != nil {
		t.Fatal(err)
	}
	if info.State != StateRunning || info.PID == first.PID || info.PID == 0 || info.Restarts != 0 {
		t.Fatalf("after restart: %+v, want running with a new pid (was %d), 0 automatic restarts", info, first.PID)
	}
	select {
	case <-a.Done():
		t.Fatal("an app restarted by an operator is done")
	default:
	}
	if _, err := h.s.RestartService("nosuch"); err == nil {
		t.Fatal("restart of an unknown app succeeded")
	}
}

func TestAcceptServiceAndConnectionLimit(t *testing.T) {
	h := newHarness(t, nil)
	spec := shApp("echo", `read line; echo "got $line from $REMOTE_ADDR fds=$LISTEN_FDS $LISTEN_FDNAMES"; read wait`)
	spec.Listen = []ListenSpec{{Address: "tcp://127.0.0.1:0", Name: "echo", Accept: true, MaxConnections: 1}}
	a, err := h.s.StartApp(spec)
	if err != nil {
		t.Fatal(err)
	}
	addr := boundAddr(t, a.listen[0])
	c1 := dialLine(t, addr, "one")
	if got, want := c1.line(), "got one from 127.0.0.1 fds=1 connection"; got != want {
		t.Fatalf("first connection: %q, want %q", got, want)
	}
	// One connection runs: the next is closed at once.
	c2, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	_ = c2.SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, err := c2.Read(make([]byte, 1)); err == nil || n > 0 {
		t.Fatalf("a connection over the limit read %d bytes, %v; want it closed", n, err)
	}
	info := h.waitApp("echo", "refusal counted", func(i AppInfo) bool { return i.Listen[0].Refused == 1 })
	if want := "tcp://" + addr; info.Listen[0].Address != want {
		t.Errorf("status shows the socket as %s, want the bound %s", info.Listen[0].Address, want)
	}
	if info.State != StateRunning || info.Listen[0].Connections != 1 || info.Listen[0].Accepted != 1 || info.PID != 0 {
		t.Fatalf("accept service: %+v", info)
	}
	fmt.Fprintln(c1.c, "bye") // the first one ends; a new one is served
	if _, err := c1.r.ReadString('\n'); err != io.EOF {
		t.Fatalf("first connection after bye: %v, want EOF", err)
	}
	h.waitApp("echo", "connection end counted", func(i AppInfo) bool { return i.Listen[0].Connections == 0 })
	if got := dialLine(t, addr, "three").line(); !strings.HasPrefix(got, "got three") {
		t.Fatalf("third connection: %q", got)
	}
}

type lineConn struct {
	t *testing.T
	c net.Conn
	r *bufio.Reader
}

func dialLine(t *testing.T, addr, send string) *lineConn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	fmt.Fprintln(c, send)
	return &lineConn{t: t, c: c, r: bufio.NewReader(c)}
}

func (l *lineConn) line() string {
	l.t.Helper()
	s, err := l.r.ReadString('\n')
	if err != nil {
		l.t.Fatalf("read: %v", err)
	}
	return strings.TrimSpace(s)
}

// boundAddr is the address a held socket is bound to.
func boundAddr(t *testing.T, fd int) string {
	t.Helper()
	sa, err := unix.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	in := sa.(*unix.SockaddrInet4)
	return fmt.Sprintf("%s:%d", net.IP(in.Addr[:]), in.Port)
}

func TestListenKinds(t *testing.T) {
	dir := t.TempDir()
	for _, addr := range []string{"tcp://127.0.0.1:0", "udp://127.0.0.1:0", "unix:" + dir + "/s", "unixpacket:" + dir + "/p"} {
		fd, err := openListener(addr)
		if err != nil {
			t.Fatalf("%s: %v", addr, err)
		}
		typ, _ := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TYPE)
		acc, _ := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ACCEPTCONN)
		unix.Close(fd)
		want := map[string]int{"tcp": unix.SOCK_STREAM, "udp": unix.SOCK_DGRAM, "unix": unix.SOCK_STREAM, "unixpacket": unix.SOCK_SEQPACKET}[strings.Split(addr, ":")[0]]
		if typ != want || (acc == 1) == strings.HasPrefix(addr, "udp") {
			t.Errorf("%s: type %d listening %d, want type %d", addr, typ, acc, want)
		}
	}
	// A stale socket file is replaced; another file is not.
	if fd, err := openListener("unix:" + dir + "/s"); err != nil {
		t.Errorf("stale socket file not replaced: %v", err)
	} else {
		unix.Close(fd)
	}
	if _, err := openListener("unix:" + dir); err == nil || !strings.Contains(err.Error(), "is no socket") {
		t.Errorf("a directory in the way: %v", err)
	}
}

func TestDefaultListenNames(t *testing.T) {
	for addr, want := range map[string]string{"tcp://127.0.0.1:2222": "tcp-2222", "udp://[::1]:53": "udp-53",
		"unix:/run/web/admin.sock": "admin.sock", "unixpacket:/run/x": "x"} {
		if got := listenName(addr); got != want || checkFDName(got) != nil {
			t.Errorf("listenName(%q) = %q, want %q (a valid fd name)", addr, got, want)
		}
	}
}
