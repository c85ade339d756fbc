//go:build linux

package migrate

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/migrate-run/migrate/fdpass"
	"github.com/migrate-run/migrate/proto"
	"golang.org/x/sys/unix"
)

func TestHelloSaysWhoAndTakesLimits(t *testing.T) {
	checkNoLeaks(t)
	t.Setenv("MIGRATE_APP", "echo")
	a, b, err := fdpass.SocketPair()
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	f := &fakeSup{t: t, conn: b, buf: make([]byte, proto.MaxMessageSize)}
	res := async(func() (*Client, error) { return NewClient(context.Background(), a) })
	hello, id, fds := expect[*proto.Hello](f)
	if id != 1 || len(fds) != 0 {
		t.Errorf("Hello id %d with %d fds, want id 1 and none", id, len(fds))
	}
	want := proto.Hello{Version: 1, PID: uint32(os.Getpid()), App: "echo", Client: ClientName}
	if *hello != want {
		t.Errorf("Hello = %+v, want %+v", *hello, want)
	}
	hr := testLimits
	f.send(proto.Message{ID: id, Body: &hr}, nil)
	c, err := wait(t, res)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	wantLimits := Limits{App: "test-app", PID: 77, MaxStoreBytes: 1 << 20, MaxValueBytes: 1 << 19,
		DefaultExpirySec: 60, MaxExpirySec: 3600}
	if c.Limits() != wantLimits {
		t.Errorf("Limits() = %+v, want %+v", c.Limits(), wantLimits)
	}
}

func TestHelloRefusedClosesTheConnection(t *testing.T) {
	checkNoLeaks(t)
	a, b, err := fdpass.SocketPair()
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	f := &fakeSup{t: t, conn: b, buf: make([]byte, proto.MaxMessageSize)}
	res := async(func() (*Client, error) { return NewClient(context.Background(), a) })
	_, id, _ := expect[*proto.Hello](f)
	f.fail(id, proto.CodePermissionDenied, "not one of my apps")
	_, err = wait(t, res)
	var se *SupervisorError
	if !errors.As(err, &se) || se.Code != proto.CodePermissionDenied || se.Message != "not one of my apps" {
		t.Fatalf("NewClient error = %v, want a SupervisorError permission-denied", err)
	}
	if !errors.Is(err, ErrRefused) {
		t.Errorf("error %v does not match ErrRefused", err)
	}
	// The client closed its end: the fake reads end of file.
	b.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, _, err := fdpass.Recv(b, make([]byte, 64), 0, proto.DeclaredFDs); !errors.Is(err, fdpass.ErrClosed) {
		t.Errorf("after a refused Hello the fake reads %v, want ErrClosed", err)
	}
}

func TestDialWithoutSupervisor(t *testing.T) {
	t.Setenv("MIGRATE_SOCKET", "")
	if _, err := Dial(context.Background()); !errors.Is(err, ErrNoSupervisor) {
		t.Errorf("Dial without MIGRATE_SOCKET = %v, want ErrNoSupervisor", err)
	}
	if Available() {
		t.Error("Available() without MIGRATE_SOCKET")
	}
	t.Setenv("MIGRATE_SOCKET", filepath.Join(t.TempDir(), "nobody.sock"))
	if Available() {
		t.Error("Available() with a socket nobody listens on")
	}
}

func TestAvailableConnectsTheDefaultClient(t *testing.T) {
	checkNoLeaks(t)
	path := filepath.Join(t.TempDir(), "sup.sock")
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	ln := os.NewFile(uintptr(fd), "listener")
	defer ln.Close()
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: path}); err != nil {
		t.Fatal(err)
	}
	if err := unix.Listen(fd, 1); err != nil {
		t.Fatal(err)
	}
	t.Setenv("MIGRATE_SOCKET", path)
	avail := async(func() (bool, error) { return Available(), nil })
	nfd, _, err := unix.Accept4(fd, unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK)
	if err != nil {
		t.Fatal(err)
	}
	conn := unixConnOf(t, nfd)
	defer conn.Close()
	f := &fakeSup{t: t, conn: conn, buf: make([]byte, proto.MaxMessageSize)}
	_, id, _ := expect[*proto.Hello](f)
	hr := testLimits
	f.send(proto.Message{ID: id, Body: &hr}, nil)
	if ok, _ := wait(t, avail); !ok {
		t.Fatal("Available() = false with a supervisor answering")
	}
	c, err := Default(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.Limits().App != "test-app" {
		t.Errorf("default client's app = %q, want test-app", c.Limits().App)
	}
}

func TestCloseFailsPendingCallsAndLaterOnes(t *testing.T) {
	checkNoLeaks(t)
	c, f := newFake(t)
	res := async(func() ([]byte, error) { return c.retrieve(context.Background(), proto.Scope{Session: 1}, "k") })
	expect[*proto.Retrieve](f)
	c.Close()
	if _, err := wait(t, res); !errors.Is(err, ErrClosed) {
		t.Errorf("pending call after Close = %v, want ErrClosed", err)
	}
	if err := c.store(context.Background(), proto.Scope{Session: 1}, "k", nil); !errors.Is(err, ErrClosed) {
		t.Errorf("call after Close = %v, want ErrClosed", err)
	}
	select {
	case <-c.Done():
	default:
		t.Error("Done not closed after Close")
	}
	if err := c.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
}

func TestSupervisorHangupEndsTheClient(t *testing.T) {
	checkNoLeaks(t)
	c, f := newFake(t)
	res := async(func() (int64, error) { return c.storeSize(context.Background(), proto.Scope{Session: 1}, "k") })
	expect[*proto.StoreSize](f)
	f.conn.Close()
	if _, err := wait(t, res); !errors.Is(err, ErrClosed) {
		t.Errorf("pending call after hangup = %v, want ErrClosed", err)
	}
	<-c.Done()
	if !errors.Is(c.Err(), ErrClosed) || !errors.Is(c.Err(), fdpass.ErrClosed) {
		t.Errorf("Err() = %v, want ErrClosed wrapping the peer's close", c.Err())
	}
}

func TestCallContextCancelled(t *testing.T) {
	checkNoLeaks(t)
	c, f := newFake(t)
	ctx, cancel := context.WithCancel(context.Background())
	res := async(func() ([]byte, error) { return c.retrieve(ctx, proto.Scope{Session: 1}, "k") })
	_, id, _ := expect[*proto.Retrieve](f)
	cancel()
	if _, err := wait(t, res); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled call = %v, want context.Canceled", err)
	}
	// The late reply is dropped, and the client still works.
	f.send(proto.Message{ID: id, Body: &proto.RetrieveReply{Value: []byte("late")}}, nil)
	res = async(func() ([]byte, error) { return c.retrieve(context.Background(), proto.Scope{Session: 1}, "k") })
	_, id, _ = expect[*proto.Retrieve](f)
	f.send(proto.Message{ID: id, Body: &proto.RetrieveReply{Value: []byte("fresh")}}, nil)
	if v, err := wait(t, res); err != nil || string(v) != "fresh" {
		t.Errorf("next call = %q, %v; want fresh", v, err)
	}
}
