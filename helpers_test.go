//go:build linux

package migrate

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/migrate-run/migrate/fdpass"
	"github.com/migrate-run/migrate/proto"
	"go.uber.org/goleak"
	"golang.org/x/sys/unix"
)

func TestMain(m *testing.M) {
	// The netpoller opens its epoll and wakeup descriptors on first use;
	// open them now so that they do not count as leaks in the first test.
	if a, b, err := fdpass.SocketPair(); err == nil {
		a.Close()
		b.Close()
	}
	goleak.VerifyTestMain(m)
}

// openFDs lists the descriptors open in this process.
func openFDs(t testing.TB) []int {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatalf("list open descriptors: %v", err)
	}
	var fds []int
	for _, e := range entries {
		fd, err := strconv.Atoi(e.Name())
		if err != nil {
			t.Fatalf("list open descriptors: %v", err)
		}
		if isOpen(fd) { // ReadDir's own descriptor is closed by now
			fds = append(fds, fd)
		}
	}
	return fds
}

func isOpen(fd int) bool {
	_, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
	return err == nil
}

// checkNoLeaks fails the test, at cleanup, if descriptors are open then
// that were not open now. Register it first, so it runs last.
func checkNoLeaks(t *testing.T) {
	t.Helper()
	before := openFDs(t)
	t.Cleanup(func() {
		var leaked []string
		for _, fd := range openFDs(t) {
			if !slices.Contains(before, fd) {
				target, _ := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", fd))
				leaked = append(leaked, fmt.Sprintf("%d -> %s", fd, target))
			}
		}
		if len(leaked) > 0 {
			t.Errorf("descriptors leaked: %v", leaked)
		}
	})
}

// fakeSup is the supervisor's end of a control connection, driven by the
// test: it receives what the library sends and answers as the test says.
type fakeSup struct {
	t      *testing.T
	conn   *net.UnixConn
	buf    []byte
	nextID uint64
}

// testLimits is the HelloReply every fake sends.
var testLimits = proto.HelloReply{Version: 1, App: "test-app", PID: 77,
	MaxStoreBytes: 1 << 20, MaxValueBytes: 1 << 19, DefaultExpirySec: 60, MaxExpirySec: 3600}

// newFake connects a Client to a fake supervisor over a socket pair and
// does the handshake. Both are closed at cleanup.
func newFake(t *testing.T) (*Client, *fakeSup) {
	t.Helper()
	a, b, err := fdpass.SocketPair()
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeSup{t: t, conn: b, buf: make([]byte, proto.MaxMessageSize)}
	t.Cleanup(func() { b.Close() })
	type result struct {
		c   *Client
		err error
	}
	done := make(chan result, 1)
	go func() {
		c, err := NewClient(context.Background(), a)
		done <- result{c, err}
	}()
	m, _ := f.recv()
	if _, ok := m.Body.(*proto.Hello); !ok {
		t.Fatalf("first message is %v, want Hello", m.Body.Type())
	}
	hr := testLimits
	f.send(proto.Message{ID: m.ID, Body: &hr}, nil)
	r := <-done
	if r.err != nil {
		t.Fatalf("NewClient: %v", r.err)
	}
	t.Cleanup(func() { r.c.Close() })
	return r.c, f
}

// recv reads the next message the library sent, with its descriptors
// (closed at cleanup unless the test closes them first). A memfd payload
// is read and its memfd closed.
func (f *fakeSup) recv() (proto.Message, []int) {
	f.t.Helper()
	f.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	rec, fds, err := fdpass.Recv(f.conn, f.buf, proto.MaxFDs, proto.DeclaredFDs)
	if err != nil {
		f.t.Fatalf("fake supervisor: receive: %v", err)
	}
	m, fds, err := decodeRecord(rec, fds)
	if err != nil {
		f.t.Fatalf("fake supervisor: decode: %v", err)
	}
	f.t.Cleanup(func() { closeFDs(fds) })
	return m, slices.Clone(fds)
}

// recvRaw reads the next record without decoding it.
func (f *fakeSup) recvRaw() ([]byte, []int) {
	f.t.Helper()
	f.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	rec, fds, err := fdpass.Recv(f.conn, f.buf, proto.MaxFDs, proto.DeclaredFDs)
	if err != nil {
		f.t.Fatalf("fake supervisor: receive: %v", err)
	}
	f.t.Cleanup(func() { closeFDs(fds) })
	return slices.Clone(rec), fds
}

// expect receives the next message and checks it is a T.
func expect[T proto.Body](f *fakeSup) (T, uint64, []int) {
	f.t.Helper()
	m, fds := f.recv()
	b, ok := m.Body.(T)
	if !ok {
		var want T
		f.t.Fatalf("fake supervisor got %v, want %T", m.Body.Type(), want)
	}
	return b, m.ID, fds
}

// send writes m with fds (which stay the test's), through a memfd when
// it is too large for a record.
func (f *fakeSup) send(m proto.Message, fds []int) {
	f.t.Helper()
	rec, err := proto.Encode(m)
	if errors.Is(err, proto.ErrTooLarge) {
		var payload []byte
		rec, payload, err = proto.EncodeMemfd(m)
		if err != nil {
			f.t.Fatal(err)
		}
		memfd, err := fdpass.NewSealedMemfd("fake", payload)
		if err != nil {
			f.t.Fatal(err)
		}
		defer unix.Close(memfd)
		fds = append(slices.Clone(fds), memfd)
	} else if err != nil {
		f.t.Fatalf("fake supervisor: encode: %v", err)
	}
	if err := fdpass.Send(f.conn, rec, fds); err != nil {
		f.t.Fatalf("fake supervisor: send: %v", err)
	}
}

// request sends one of the supervisor's own requests and returns its id.
func (f *fakeSup) request(body proto.Body, fds []int) uint64 {
	f.t.Helper()
	f.nextID++
	id := proto.SupervisorBit | f.nextID
	f.send(proto.Message{ID: id, Body: body}, fds)
	return id
}

func (f *fakeSup) ack(id, value uint64) {
	f.t.Helper()
	f.send(proto.Message{ID: id, Body: &proto.Ack{Value: value}}, nil)
}

func (f *fakeSup) fail(id uint64, code proto.ErrorCode, msg string) {
	f.t.Helper()
	f.send(proto.Message{ID: id, Body: &proto.Error{Code: code, Message: msg}}, nil)
}

// async runs fn on a goroutine; the result arrives on the channel.
func async[T any](fn func() (T, error)) <-chan outcome[T] {
	ch := make(chan outcome[T], 1)
	go func() {
		v, err := fn()
		ch <- outcome[T]{v, err}
	}()
	return ch
}

type outcome[T any] struct {
	v   T
	err error
}

// wait returns what an async call produced, failing after 10 s.
func wait[T any](t *testing.T, ch <-chan outcome[T]) (T, error) {
	t.Helper()
	select {
	case o := <-ch:
		return o.v, o.err
	case <-time.After(10 * time.Second):
		t.Fatal("call did not return")
		panic("unreachable")
	}
}

// tcpPair returns both ends of a loopback TCP connection, closed at cleanup.
func tcpPair(t *testing.T) (*net.TCPConn, *net.TCPConn) {
	t.Helper()
	ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := async(func() (*net.TCPConn, error) { return ln.AcceptTCP() })
	c, err := net.DialTCP("tcp", nil, ln.Addr().(*net.TCPAddr))
	if err != nil {
		t.Fatal(err)
	}
	s, err := wait(t, accepted)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(); s.Close() })
	return s, c
}

// fdNumber returns conn's descriptor number without touching its flags.
func fdNumber(t *testing.T, conn interface {
	SyscallConn() (syscall.RawConn, error)
}) int {
	t.Helper()
	rc, err := conn.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	n := -1
	if err := rc.Control(func(fd uintptr) { n = int(fd) }); err != nil {
		t.Fatal(err)
	}
	return n
}

// registered registers conn with the fake as session id.
func registered(t *testing.T, c *Client, f *fakeSup, conn *net.TCPConn, id uint64, opts ...SessionOption) *Session {
	t.Helper()
	res := async(func() (*Session, error) { return c.GetSession(context.Background(), conn, opts...) })
	_, rid, _ := expect[*proto.GetSession](f)
	f.ack(rid, id)
	s, err := wait(t, res)
	if err != nil {
		t.Fatalf("GetSession: %v", err)
	}
	return s
}

// unixConnOf makes a *net.UnixConn of a nonblocking unix socket and closes fd.
func unixConnOf(t *testing.T, fd int) *net.UnixConn {
	t.Helper()
	f := os.NewFile(uintptr(fd), "unix")
	defer f.Close()
	c, err := net.FileConn(f)
	if err != nil {
		t.Fatal(err)
	}
	return c.(*net.UnixConn)
}
