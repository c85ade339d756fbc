//go:build linux

package migrate

import (
	"context"
	"errors"
	"io"
	"os"
	"testing"
	"time"

	"github.com/migrate-run/migrate/fdpass"
	"github.com/migrate-run/migrate/proto"
)

// registerAttach registers fn with the fake.
func registerAttach(t *testing.T, c *Client, f *fakeSup, fn func(*Attached) error) {
	t.Helper()
	res := async(func() (struct{}, error) { return struct{}{}, c.OnAttach(context.Background(), fn) })
	_, id, fds := expect[*proto.Attach](f)
	if len(fds) != 0 {
		t.Errorf("Attach carried %d descriptors", len(fds))
	}
	f.ack(id, 0)
	if _, err := wait(t, res); err != nil {
		t.Fatal(err)
	}
}

// attachSession sends AttachSession for continuation 9 / session 30 with a
// unix socket as the session's connection and a pipe; it returns the
// other end of the socket and the pipe's write end.
func attachSession(t *testing.T, f *fakeSup) (uint64, *os.File, *os.File) {
	t.Helper()
	a, b, err := fdpass.SocketPair()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close(); b.Close() })
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pr.Close(); pw.Close() })
	peer, _ := b.File()
	t.Cleanup(func() { peer.Close() })
	id := f.request(&proto.AttachSession{Cont: 9, Session: 30, Kind: proto.KindInternal, PID: 4242, Name: "listener-1",
		Slots: []proto.Slot{{FD: 5, Name: "client", Role: proto.RoleConn, Conn: true}, {FD: 7, Name: "log", Role: proto.RolePipe}},
		Store: []proto.Entry{{Key: "pos", Value: []byte("17")}}},
		[]int{fdNumber(t, a), int(pr.Fd())})
	return id, peer, pw
}

func TestAttachHandsTheSessionOver(t *testing.T) {
	checkNoLeaks(t)
	c, f := newFake(t)
	got := make(chan *Attached, 1)
	registerAttach(t, c, f, func(a *Attached) error {
		conn, err := a.Conn()
		if err != nil {
			return err
		}
		t.Cleanup(func() { conn.Close() })
		if _, err := conn.Write([]byte("hi")); err != nil {
			return err
		}
		t.Cleanup(func() { a.Files[1].File.Close() })
		got <- a
		return nil
	})
	rid, peer, _ := attachSession(t, f)
	ack, id, _ := expect[*proto.Ack](f)
	if id != rid || ack.Value != 0 {
		t.Errorf("answered %+v on %#x, want Ack on %#x", ack, id, rid)
	}
	a := <-got
	if a.Cont != 9 || a.Session.ID() != 30 || a.Kind != Internal || a.PID != 4242 || a.Session.Name() != "listener-1" {
		t.Errorf("attached %+v", a)
	}
	if v, ok := a.Value("pos"); !ok || string(v) != "17" {
		t.Errorf("store pos = %q %v", v, ok)
	}
	if len(a.Files) != 2 || a.Files[0].Number != 5 || !a.Files[0].Session || a.Files[0].File != nil ||
		a.Files[1].Number != 7 || a.Files[1].Role != RolePipe || a.Files[1].Name != "log" || a.Files[1].File == nil {
		t.Errorf("files %+v", a.Files)
	}
	buf := make([]byte, 2)
	peer.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(peer, buf); err != nil || string(buf) != "hi" {
		t.Errorf("peer read %q, %v", buf, err)
	}
	// The attached session is live: suspend requests reach it.
	sid := f.request(&proto.SuspendRequest{Session: 30, Reason: proto.ReasonOperator, DeadlineMS: 1000}, nil)
	if r := <-a.Session.Suspend(); r.id != sid {
		t.Errorf("request %#x, want %#x", r.id, sid)
	}
}

func TestAttachRefusedClosesWhatArrived(t *testing.T) {
	checkNoLeaks(t)
	c, f := newFake(t)
	registerAttach(t, c, f, func(a *Attached) error {
		if _, err := a.Conn(); err != nil {
			return err
		}
		return errors.New("position too old")
	})
	rid, _, _ := attachSession(t, f)
	e, id, _ := expect[*proto.Error](f)
	if id != rid || e.Message != "position too old" {
		t.Errorf("answered %v on %#x, want the handler's error on %#x", e, id, rid)
	}
	// The library closed both descriptors (and the net.Conn made of one)
	// before answering: checkNoLeaks counts them at cleanup.
	sid := f.request(&proto.SuspendRequest{Session: 30, Reason: proto.ReasonOperator, DeadlineMS: 1000}, nil)
	if e, id, _ := expect[*proto.Error](f); id != sid || e.Code != proto.CodeUnknownSession {
		t.Errorf("refused session still reachable: %v", e)
	}
}

func TestAttachWithoutHandler(t *testing.T) {
	checkNoLeaks(t)
	_, f := newFake(t)
	rid, _, _ := attachSession(t, f)
	e, id, _ := expect[*proto.Error](f)
	if id != rid || e.Code != proto.CodeNotSupported {
		t.Errorf("answered %v on %#x, want not-supported on %#x", e, id, rid)
	}
	// checkNoLeaks shows both received descriptors were closed.
}

func TestOnAttachNil(t *testing.T) {
	c, _ := newFake(t)
	if err := c.OnAttach(context.Background(), nil); !errors.Is(err, ErrInvalid) {
		t.Errorf("OnAttach(nil) = %v, want ErrInvalid", err)
	}
}
