//go:build linux

package supervisor

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/migrate-run/migrate/fdpass"
)

// notifyHarness serves a notifySocket for one test.
type notifyHarness struct {
	t    *testing.T
	n    *notifySocket
	msgs chan notifyMsg
	bad  chan error
	done chan struct{} // closed when serve returned
}

// startNotify listens at path and serves until the test ends; at cleanup
// the socket is closed, serve must return, and messages the test did not
// take have their descriptors closed.
func startNotify(t *testing.T, path string) *notifyHarness {
	t.Helper()
	n, err := listenNotify(path)
	if err != nil {
		t.Fatalf("listenNotify: %v", err)
	}
	h := &notifyHarness{t: t, n: n, msgs: make(chan notifyMsg, 64), bad: make(chan error, 64), done: make(chan struct{})}
	go func() {
		defer close(h.done)
		n.serve(func(m notifyMsg) { h.msgs <- m }, func(err error) { h.bad <- err })
	}()
	t.Cleanup(func() {
		if err := n.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		<-h.done
		for {
			select {
			case m := <-h.msgs:
				m.closeFDs()
			default:
				return
			}
		}
	})
	return h
}

// next returns the next message handled.
func (h *notifyHarness) next() notifyMsg {
	h.t.Helper()
	select {
	case m := <-h.msgs:
		return m
	case err := <-h.bad:
		h.t.Fatalf("datagram dropped: %v", err)
	case <-time.After(10 * time.Second):
		h.t.Fatal("no datagram handled")
	}
	panic("unreachable")
}

// nextBad returns the next drop reported.
func (h *notifyHarness) nextBad() *notifyDropError {
	h.t.Helper()
	select {
	case err := <-h.bad:
		var drop *notifyDropError
		if !errors.As(err, &drop) || !errors.Is(err, errBadNotify) {
			h.t.Fatalf("bad got %v, want a *notifyDropError wrapping errBadNotify", err)
		}
		return drop
	case m := <-h.msgs:
		m.closeFDs()
		h.t.Fatalf("datagram handled, want it dropped: %+v", m)
	case <-time.After(10 * time.Second):
		h.t.Fatal("no drop reported")
	}
	panic("unreachable")
}

// sendNotify sends one datagram to path with fds, as sd_pid_notify_with_fds
// does: from an unbound SOCK_DGRAM socket, with SCM_RIGHTS.
func sendNotify(t *testing.T, path string, payload []byte, fds ...int) {
	t.Helper()
	s, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(s)
	if len(payload) > 200<<10 {
		t.Fatalf("%d bytes exceed the socket's default send buffer", len(payload))
	}
	var oob []byte
	if len(fds) > 0 {
		oob = unix.UnixRights(fds...)
	}
	if err := unix.Sendmsg(s, payload, oob, &unix.SockaddrUnix{Name: path}, 0); err != nil {
		t.Fatalf("sendmsg: %v", err)
	}
}

// expectFDs fails t unless the test process has want descriptors open.
func expectFDs(t *testing.T, want int) {
	t.Helper()
	if got := openFDs(t); got != want {
		t.Fatalf("%d descriptors open, want %d: %s", got, want, fdList())
	}
}

// A datagram arrives parsed, with the sender's kernel credentials and its
// descriptors, close-on-exec, referring to what was sent. The socket is
// made with its directories and is open to every user.
func TestNotifyReceives(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run", "sub", "notify")
	h := startNotify(t, path)
	if h.n.Path() != path {
		t.Fatalf("Path() = %q, want %q", h.n.Path(), path)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Type() != os.ModeSocket || fi.Mode().Perm() != 0o666 {
		t.Fatalf("socket file: %v, %v; want a socket, mode 0666", fi.Mode(), err)
	}
	before := openFDs(t)
	r, w := pipe(t)
	sendNotify(t, path, []byte("FDSTORE=1\nFDNAME=pipe\nREADY=1\nSTATUS=up\n"), r, w)
	m := h.next()
	if m.PID != os.Getpid() || m.UID != uint32(os.Getuid()) || m.GID != uint32(os.Getgid()) {
		t.Errorf("credentials pid %d uid %d gid %d, want %d %d %d", m.PID, m.UID, m.GID, os.Getpid(), os.Getuid(), os.Getgid())
	}
	if !m.FDStore || m.FDName != "pipe" || !m.Ready || m.Status == nil || *m.Status != "up" {
		t.Errorf("message %+v", m)
	}
	if len(m.FDs) != 2 {
		t.Fatalf("%d descriptors arrived, want 2", len(m.FDs))
	}
	for i, sent := range []int{r, w} {
		if same, err := fdpass.SameFile(m.FDs[i], sent); err != nil || !same {
			t.Errorf("descriptor %d is not the one sent: %v", i, err)
		}
		if flags, err := unix.FcntlInt(uintptr(m.FDs[i]), unix.F_GETFD, 0); err != nil || flags&unix.FD_CLOEXEC == 0 {
			t.Errorf("descriptor %d not close-on-exec: flags %#x, %v", i, flags, err)
		}
	}
	m.closeFDs()
	unix.Close(r)
	unix.Close(w)
	expectFDs(t, before)
}

// A datagram that is malformed, too long, truncated, or a barrier without
// its one descriptor is dropped, reported with its sender, and whatever
// came with it closed; the next good one is handled.
func TestNotifyDropsBad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notify")
	h := startNotify(t, path)
	for _, c := range []struct {
		name    string
		payload []byte
		fds     int
		want    string
	}{
		{"bad value", []byte("READY=2"), 3, `READY="2": want 1`},
		{"not UTF-8", []byte("STATUS=\xff\xfe"), 1, "not UTF-8"},
		{"longer than systemd takes", []byte(strings.Repeat("S", 5000) + "=1"), 2, "5002 bytes, at most 4096"},
		{"longer than the buffer", []byte(strings.Repeat("S", 70000) + "=1"), 2, "payload truncated: longer than 65536 bytes"},
		{"barrier without descriptor", []byte("BARRIER=1"), 0, "BARRIER=1 with 0 descriptors, want 1"},
		{"barrier with two", []byte("BARRIER=1"), 2, "BARRIER=1 with 2 descriptors, want 1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := openFDs(t)
			var fds []int
			for range c.fds {
				r, w := pipe(t)
				unix.Close(w)
				fds = append(fds, r)
			}
			sendNotify(t, path, c.payload, fds...)
			closeFDs(fds)
			drop := h.nextBad()
			if drop.PID != os.Getpid() || drop.UID != uint32(os.Getuid()) || drop.FDs != c.fds {
				t.Errorf("drop from pid %d uid %d with %d descriptors, want %d %d %d", drop.PID, drop.UID, drop.FDs, os.Getpid(), os.Getuid(), c.fds)
			}
			if !strings.Contains(drop.Error(), c.want) || !strings.HasPrefix(drop.Error(), "drop notify datagram from pid ") {
				t.Errorf("error %q, want it to say %q", drop, c.want)
			}
			expectFDs(t, before)
		})
	}
	sendNotify(t, path, []byte("READY=1"))
	if m := h.next(); !m.Ready {
		t.Fatalf("after the bad datagrams: %+v", m)
	}
}

// notifyPair returns a datagram socket pair: the receiving end as the
// RawConn recvNotify reads (SO_PASSCRED as passcred says), the sending end
// as a raw descriptor.
func notifyPair(t *testing.T, passcred bool) (syscall.RawConn, int) {
	t.Helper()
	p, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(p[1]) })
	if passcred {
		if err := unix.SetsockoptInt(p[0], unix.SOL_SOCKET, unix.SO_PASSCRED, 1); err != nil {
			t.Fatal(err)
		}
	}
	f := os.NewFile(uintptr(p[0]), "notify")
	c, err := net.FileConn(f) // a duplicate
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	raw, err := c.(*net.UnixConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	return raw, p[1]
}

// Descriptors that did not fit the control buffer make the datagram
// dropped with the ones that did fit closed; so does a datagram without
// credentials.
func TestRecvNotifyDrops(t *testing.T) {
	for _, c := range []struct {
		name     string
		passcred bool
		oob      int
		want     string
	}{
		{"control truncated", true, unix.CmsgSpace(unix.SizeofUcred) + unix.CmsgSpace(4), "control data truncated"},
		{"no credentials", false, notifyOOBSize, "no sender credentials"},
	} {
		t.Run(c.name, func(t *testing.T) {
			raw, send := notifyPair(t, c.passcred)
			before := openFDs(t)
			r, w := pipe(t)
			if err := unix.Sendmsg(send, []byte("FDSTORE=1"), unix.UnixRights(r, w, r), nil, 0); err != nil {
				t.Fatal(err)
			}
			unix.Close(r)
			unix.Close(w)
			m, err := recvNotify(raw, make([]byte, notifyBufSize), make([]byte, c.oob))
			if err == nil || !errors.Is(err, errBadNotify) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("recvNotify = %+v, %v; want an error saying %q", m, err, c.want)
			}
			expectFDs(t, before)
		})
	}
}

// A socket file nobody receives on is replaced; a live socket, or a file
// that is no socket, is left alone and is an error; so are paths a socket
// cannot have.
func TestListenNotifyPath(t *testing.T) {
	dir := t.TempDir()
	stale := filepath.Join(dir, "stale")
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: stale, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	c.Close() // a unixgram socket leaves its file behind
	h := startNotify(t, stale)
	if _, err := listenNotify(stale); err == nil || !strings.Contains(err.Error(), "another process receives on it") {
		t.Fatalf("listen on a live socket: %v", err)
	}
	sendNotify(t, stale, []byte("READY=1"))
	if m := h.next(); !m.Ready {
		t.Fatalf("the live socket lost its datagram: %+v", m)
	}

	plain := filepath.Join(dir, "plain")
	if err := os.WriteFile(plain, []byte("keep"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ path, want string }{
		{plain, "exists and is not a socket"},
		{"relative/notify", "want an absolute path"},
		{"/" + strings.Repeat("d", 107), "at most 107 bytes"},
	} {
		if n, err := listenNotify(c.path); err == nil || !strings.Contains(err.Error(), c.want) {
			if n != nil {
				n.Close()
			}
			t.Errorf("listenNotify(%q): %v, want an error saying %q", c.path, err, c.want)
		}
	}
	if b, err := os.ReadFile(plain); err != nil || string(b) != "keep" {
		t.Fatalf("the plain file was touched: %q, %v", b, err)
	}
}

// Close makes serve return and removes the socket file, but not a file
// that has since replaced it; a second Close is harmless.
func TestNotifyClose(t *testing.T) {
	before := openFDs(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "notify")
	n, err := listenNotify(path)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		n.serve(func(m notifyMsg) { m.closeFDs() }, nil)
	}()
	if err := n.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not return after Close")
	}
	if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("socket file after Close: %v", err)
	}
	if err := n.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	expectFDs(t, before)

	other := filepath.Join(dir, "other")
	n, err = listenNotify(other)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(other); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(other, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := n.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, err := os.Stat(other); err != nil {
		t.Fatalf("Close removed a file it did not make: %v", err)
	}
	expectFDs(t, before)
}
