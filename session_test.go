//go:build linux

package migrate

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/migrate-run/migrate/fdpass"
	"github.com/migrate-run/migrate/proto"
	"golang.org/x/sys/unix"
)

func TestGetSessionSendsADupOfTheSocket(t *testing.T) {
	checkNoLeaks(t)
	c, f := newFake(t)
	srv, _ := tcpPair(t)
	dep := registered(t, c, f, srv, 5)
	res := async(func() (*Session, error) {
		return c.GetSession(context.Background(), srv, WithName("client"), WithHandler(Complete), DependsOn(dep))
	})
	gs, id, fds := expect[*proto.GetSession](f)
	want := proto.GetSession{FD: int32(fdNumber(t, srv)), Name: "client", DependsOn: []uint64{5}, Handler: proto.KindComplete}
	if gs.FD != want.FD || gs.Name != want.Name || !slices.Equal(gs.DependsOn, want.DependsOn) || gs.Handler != want.Handler || gs.Cont != 0 {
		t.Errorf("GetSession = %+v, want %+v", *gs, want)
	}
	if len(fds) != 1 {
		t.Fatalf("GetSession carried %d descriptors, want 1", len(fds))
	}
	if same, err := fdpass.SameFile(fds[0], fdNumber(t, srv)); err != nil || !same {
		t.Errorf("the descriptor sent is not the connection's (same=%v, %v)", same, err)
	}
	flags, err := unix.FcntlInt(uintptr(fds[0]), unix.F_GETFL, 0)
	if err != nil || flags&unix.O_NONBLOCK == 0 {
		t.Errorf("the shared socket lost O_NONBLOCK (flags %#x, %v)", flags, err)
	}
	if fdf, _ := unix.FcntlInt(uintptr(fds[0]), unix.F_GETFD, 0); fdf&unix.FD_CLOEXEC == 0 {
		t.Error("received descriptor is not close-on-exec")
	}
	f.ack(id, 12)
	s, err := wait(t, res)
	if err != nil {
		t.Fatal(err)
	}
	if s.ID() != 12 || s.Name() != "client" {
		t.Errorf("session %d %q, want 12 client", s.ID(), s.Name())
	}
}

func TestGetSessionRefused(t *testing.T) {
	checkNoLeaks(t)
	c, f := newFake(t)
	srv, _ := tcpPair(t)
	res := async(func() (*Session, error) { return c.GetSession(context.Background(), srv) })
	_, id, _ := expect[*proto.GetSession](f)
	f.fail(id, proto.CodeTooLarge, "too many sessions")
	if _, err := wait(t, res); !HasCode(err, proto.CodeTooLarge) {
		t.Errorf("GetSession = %v, want too-large", err)
	}
}

func TestGetSessionBadInput(t *testing.T) {
	checkNoLeaks(t)
	c, _ := newFake(t)
	srv, _ := tcpPair(t)
	if _, err := c.GetSession(context.Background(), nil); !errors.Is(err, ErrInvalid) {
		t.Errorf("nil conn: %v, want ErrInvalid", err)
	}
	if _, err := c.GetSession(context.Background(), srv, WithHandler(Kind(9))); !errors.Is(err, ErrInvalid) {
		t.Errorf("handler 9: %v, want ErrInvalid", err)
	}
	srv.Close()
	if _, err := c.GetSession(context.Background(), srv); err == nil {
		t.Error("GetSession of a closed connection succeeded")
	}
}

func TestGetSessionAckWithoutIDIsAProtocolError(t *testing.T) {
	checkNoLeaks(t)
	c, f := newFake(t)
	srv, _ := tcpPair(t)
	res := async(func() (*Session, error) { return c.GetSession(context.Background(), srv) })
	_, id, _ := expect[*proto.GetSession](f)
	f.ack(id, 0)
	if _, err := wait(t, res); !errors.Is(err, ErrProtocol) {
		t.Errorf("GetSession acked with 0 = %v, want ErrProtocol", err)
	}
}

func TestSessionClose(t *testing.T) {
	checkNoLeaks(t)
	c, f := newFake(t)
	srv, _ := tcpPair(t)
	s := registered(t, c, f, srv, 3)
	res := async(func() (struct{}, error) { return struct{}{}, s.Close(context.Background()) })
	sc, id, _ := expect[*proto.SessionClose](f)
	if sc.Session != 3 {
		t.Errorf("SessionClose names session %d, want 3", sc.Session)
	}
	f.ack(id, 0)
	if _, err := wait(t, res); err != nil {
		t.Fatal(err)
	}
	if err := s.Store(context.Background(), "k", nil); !errors.Is(err, ErrSessionOver) {
		t.Errorf("Store after Close = %v, want ErrSessionOver", err)
	}
	if err := s.Close(context.Background()); !errors.Is(err, ErrSessionOver) {
		t.Errorf("second Close = %v, want ErrSessionOver", err)
	}
	// The app's connection is the app's: still open.
	if _, err := srv.Write([]byte("x")); err != nil {
		t.Errorf("connection closed by Session.Close: %v", err)
	}
	// The supervisor no longer reaches it.
	rid := f.request(&proto.SuspendRequest{Session: 3, Reason: proto.ReasonOperator, DeadlineMS: 1000}, nil)
	e, id, _ := expect[*proto.Error](f)
	if id != rid || e.Code != proto.CodeUnknownSession {
		t.Errorf("suspend of a closed session answered %v on %#x, want unknown-session on %#x", e, id, rid)
	}
}
