//go:build linux

package migrate

import (
	"context"
	"errors"
	"net"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/migrate-run/migrate/fdpass"
	"github.com/migrate-run/migrate/proto"
)

// suspendOne registers a session, has the fake ask to suspend it, and
// returns the request as the app's event loop receives it.
func suspendOne(t *testing.T, c *Client, f *fakeSup, conn *net.TCPConn, deadlineMS uint32) (*SuspendRequest, uint64) {
	t.Helper()
	s := registered(t, c, f, conn, 12, WithHandler(Complete))
	rid := f.request(&proto.SuspendRequest{Session: 12, Reason: proto.ReasonOperator, DeadlineMS: deadlineMS, Detail: "test"}, nil)
	select {
	case req := <-s.Suspend():
		return req, rid
	case <-time.After(10 * time.Second):
		t.Fatal("no suspend request arrived")
		return nil, 0
	}
}

func TestReturnCompleteClosesOnlyAfterTheAck(t *testing.T) {
	checkNoLeaks(t)
	t.Setenv("MIGRATE_CONT", "99") // describes this process's start: not carried on
	c, f := newFake(t)
	srv, cli := tcpPair(t)
	req, rid := suspendOne(t, c, f, srv, 5000)
	if req.Session.ID() != 12 || req.Reason != proto.ReasonOperator || req.Detail != "test" {
		t.Errorf("request = session %d %v %q", req.Session.ID(), req.Reason, req.Detail)
	}
	if d := time.Until(req.Deadline); d <= 0 || d > 5*time.Second {
		t.Errorf("deadline %v from now, want within 5s", d)
	}
	res := async(func() (uint64, error) {
		return req.Return(Continuation{Kind: Complete, Expiry: 1500 * time.Millisecond,
			Files:  []File{{Conn: srv, Name: "client", Session: true}},
			Store:  []Entry{{Key: "next", Value: []byte("4711")}},
			Compat: []CompatTag{{ID: 1, Name: "libc", Value: "2.36"}}})
	})
	rc, id, fds := expect[*proto.ReturnCont](f)
	if rc.Session != 12 || rc.Request != rid || rc.Kind != proto.KindComplete || rc.ExpirySec != 2 {
		t.Errorf("ReturnCont = session %d request %#x kind %v expiry %d; want 12 %#x complete 2", rc.Session, rc.Request, rc.Kind, rc.ExpirySec, rid)
	}
	wantSlot := proto.Slot{FD: int32(fdNumber(t, srv)), Name: "client", Role: proto.RoleConn, Conn: true}
	if len(rc.Slots) != 1 || rc.Slots[0] != wantSlot || len(fds) != 1 {
		t.Fatalf("slots %+v with %d fds, want [%+v] with 1", rc.Slots, len(fds), wantSlot)
	}
	if same, _ := fdpass.SameFile(fds[0], fdNumber(t, srv)); !same {
		t.Error("slot 0 is not the session's connection")
	}
	if len(rc.Store) != 1 || rc.Store[0].Key != "next" || string(rc.Store[0].Value) != "4711" {
		t.Errorf("store = %+v", rc.Store)
	}
	if len(rc.Compat) != 1 || rc.Compat[0].Name != "libc" {
		t.Errorf("compat = %+v", rc.Compat)
	}
	checkDefaultExec(t, rc.Exec)
	// Before the Ack the app still owns the connection.
	if _, err := srv.Write([]byte("still mine\n")); err != nil {
		t.Fatalf("connection closed before the Ack: %v", err)
	}
	f.ack(id, 9)
	cont, err := wait(t, res)
	if err != nil || cont != 9 {
		t.Fatalf("Return = %d, %v; want 9", cont, err)
	}
	if _, err := srv.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
		t.Errorf("write after the Ack = %v, want net.ErrClosed", err)
	}
	// The supervisor's copy keeps the connection alive: the peer sees no EOF.
	cli.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	buf := make([]byte, 64)
	n, _ := cli.Read(buf)
	if got := string(buf[:n]); got != "still mine\n" {
		t.Errorf("peer read %q", got)
	}
	if err := req.Session.Store(context.Background(), "k", nil); !errors.Is(err, ErrSessionOver) {
		t.Errorf("Store after the Ack = %v, want ErrSessionOver", err)
	}
	if _, err := req.Return(Continuation{Kind: System}); !errors.Is(err, ErrAnswered) {
		t.Errorf("second Return = %v, want ErrAnswered", err)
	}
}

func checkDefaultExec(t *testing.T, e *proto.Exec) {
	t.Helper()
	if e == nil {
		t.Fatal("complete continuation without exec")
	}
	exe, _ := os.Executable()
	wd, _ := os.Getwd()
	if len(e.Args) != len(os.Args) || e.Args[0] != exe || !slices.Equal(e.Args[1:], os.Args[1:]) {
		t.Errorf("args %q, want %q then %q", e.Args, exe, os.Args[1:])
	}
	if e.Cwd != wd || e.UID != uint32(os.Geteuid()) || e.GID != uint32(os.Getegid()) {
		t.Errorf("cwd %q uid %d gid %d, want %q %d %d", e.Cwd, e.UID, e.GID, wd, os.Geteuid(), os.Getegid())
	}
	if !slices.Contains(e.Env, "MIGRATE_APP="+os.Getenv("MIGRATE_APP")) && os.Getenv("MIGRATE_APP") != "" {
		t.Error("env lost MIGRATE_APP")
	}
	for _, kv := range e.Env {
		if strings.HasPrefix(kv, "MIGRATE_CONT=") {
			t.Errorf("env carries %q", kv)
		}
	}
	if len(e.Env) == 0 || !slices.Contains(e.Env, "PATH="+os.Getenv("PATH")) {
		t.Error("env lost PATH")
	}
}

func TestReturnRefusedKeepsTheSession(t *testing.T) {
	for _, code := range []proto.ErrorCode{proto.CodeInternal, proto.CodeTimeout} {
		t.Run(code.String(), func(t *testing.T) {
			checkNoLeaks(t)
			c, f := newFake(t)
			srv, _ := tcpPair(t)
			req, _ := suspendOne(t, c, f, srv, 5000)
			res := async(func() (uint64, error) {
				return req.Return(Continuation{Kind: Internal, Files: []File{{Conn: srv, Session: true}}})
			})
			_, id, _ := expect[*proto.ReturnCont](f)
			f.fail(id, code, "no")
			if _, err := wait(t, res); !HasCode(err, code) {
				t.Fatalf("Return = %v, want %v", err, code)
			}
			if _, err := srv.Write([]byte("x")); err != nil {
				t.Errorf("connection closed after an Error: %v", err)
			}
			if _, err := req.Return(Continuation{Kind: Internal}); !errors.Is(err, ErrAnswered) {
				t.Errorf("Return again = %v, want ErrAnswered", err)
			}
			// The session stays: another request reaches it.
			rid := f.request(&proto.SuspendRequest{Session: 12, Reason: proto.ReasonOperator, DeadlineMS: 1000}, nil)
			if again := <-req.Session.Suspend(); again.id != rid {
				t.Errorf("next request id %#x, want %#x", again.id, rid)
			}
		})
	}
}

func TestReturnAfterTheDeadlineSendsNothing(t *testing.T) {
	checkNoLeaks(t)
	c, f := newFake(t)
	srv, _ := tcpPair(t)
	req, _ := suspendOne(t, c, f, srv, 1)
	<-req.Context().Done()
	if _, err := req.Return(Continuation{Kind: System, Files: []File{{Conn: srv, Session: true}}}); !errors.Is(err, ErrDeadline) {
		t.Fatalf("late Return = %v, want ErrDeadline", err)
	}
	if _, err := srv.Write([]byte("x")); err != nil {
		t.Errorf("connection closed by a late Return: %v", err)
	}
	// Nothing was sent: the next record is the next call's.
	go req.Session.Export(context.Background(), "k")
	expect[*proto.Export](f)
}

func TestReturnInvalidCanBeRetried(t *testing.T) {
	checkNoLeaks(t)
	c, f := newFake(t)
	srv, _ := tcpPair(t)
	req, _ := suspendOne(t, c, f, srv, 5000)
	bad := []Continuation{
		{Kind: None},
		{Kind: System, Exec: &Exec{}},
		{Kind: System, Expiry: -time.Second},
		{Kind: System, Files: []File{{Conn: nil}}},
		{Kind: System, Files: []File{{Conn: srv}, {Conn: srv}}}, // one fd twice
		{Kind: System, Compat: []CompatTag{{ID: 1}, {ID: 1}}},
		{Kind: System, Store: []Entry{{Key: ""}}},
	}
	for _, cont := range bad {
		if _, err := req.Return(cont); !errors.Is(err, ErrInvalid) {
			t.Errorf("Return(%+v) = %v, want ErrInvalid", cont, err)
		}
	}
	res := async(func() (uint64, error) { return req.Return(Continuation{Kind: System}) })
	_, id, _ := expect[*proto.ReturnCont](f)
	f.ack(id, 4)
	if v, err := wait(t, res); err != nil || v != 4 {
		t.Errorf("Return after fixing = %d, %v", v, err)
	}
}

func TestRefuse(t *testing.T) {
	checkNoLeaks(t)
	c, f := newFake(t)
	srv, _ := tcpPair(t)
	req, rid := suspendOne(t, c, f, srv, 5000)
	if err := req.Refuse(errors.New("mid-transfer")); err != nil {
		t.Fatal(err)
	}
	e, id, _ := expect[*proto.Error](f)
	if id != rid || e.Code != proto.CodeBusy || e.Message != "mid-transfer" {
		t.Errorf("refusal = %v on %#x, want busy mid-transfer on %#x", e, id, rid)
	}
	if req.Context().Err() == nil {
		t.Error("context still live after Refuse")
	}
	if err := req.Refuse(nil); !errors.Is(err, ErrAnswered) {
		t.Errorf("second Refuse = %v, want ErrAnswered", err)
	}
}

func TestSecondRequestWhileOneIsOpenIsBusy(t *testing.T) {
	checkNoLeaks(t)
	c, f := newFake(t)
	srv, _ := tcpPair(t)
	req, _ := suspendOne(t, c, f, srv, 5000)
	rid := f.request(&proto.SuspendRequest{Session: 12, Reason: proto.ReasonDependency, DeadlineMS: 1000}, nil)
	e, id, _ := expect[*proto.Error](f)
	if id != rid || e.Code != proto.CodeBusy {
		t.Errorf("second request answered %v on %#x, want busy on %#x", e, id, rid)
	}
	req.Refuse(nil)
	expect[*proto.Error](f)
}

func TestSuspendOfAnUnknownSession(t *testing.T) {
	checkNoLeaks(t)
	_, f := newFake(t)
	rid := f.request(&proto.SuspendRequest{Session: 40, Reason: proto.ReasonOperator, DeadlineMS: 1000}, nil)
	e, id, _ := expect[*proto.Error](f)
	if id != rid || e.Code != proto.CodeUnknownSession {
		t.Errorf("answered %v on %#x, want unknown-session on %#x", e, id, rid)
	}
}

func TestOnSuspendHandler(t *testing.T) {
	checkNoLeaks(t)
	c, f := newFake(t)
	srv, _ := tcpPair(t)
	got := make(chan *SuspendRequest, 1)
	s := registered(t, c, f, srv, 8, OnSuspend(func(r *SuspendRequest) { got <- r }))
	f.request(&proto.SuspendRequest{Session: 8, Reason: proto.ReasonShutdown, DeadlineMS: 1000}, nil)
	r := <-got
	if r.Session != s || r.Reason != proto.ReasonShutdown {
		t.Errorf("handler got session %d reason %v", r.Session.ID(), r.Reason)
	}
	select {
	case <-s.Suspend():
		t.Error("request also arrived on the channel")
	default:
	}
	r.Refuse(nil)
	expect[*proto.Error](f)
}

func TestReturnContOnTheAppsOwnInitiative(t *testing.T) {
	checkNoLeaks(t)
	c, f := newFake(t)
	srv, _ := tcpPair(t)
	s := registered(t, c, f, srv, 6)
	st := async(func() (struct{}, error) { return struct{}{}, s.Store(context.Background(), "pos", []byte("1")) })
	_, id, _ := expect[*proto.Store](f)
	f.ack(id, 0)
	wait(t, st)
	ex := async(func() (struct{}, error) { return struct{}{}, s.Export(context.Background(), "pos") })
	_, id, _ = expect[*proto.Export](f)
	f.ack(id, 0)
	wait(t, ex)
	res := async(func() (uint64, error) {
		return s.ReturnCont(context.Background(), Continuation{Kind: System,
			Files: []File{{Conn: srv, Session: true}}, Store: []Entry{{Key: "extra", Value: []byte("x")}}})
	})
	rc, id, _ := expect[*proto.ReturnCont](f)
	if rc.Request != 0 || rc.Exec != nil || rc.Kind != proto.KindSystem {
		t.Errorf("ReturnCont request %#x exec %v kind %v, want 0 nil system", rc.Request, rc.Exec, rc.Kind)
	}
	want := []Entry{{Key: "pos", Value: []byte("1"), Exported: true}, {Key: "extra", Value: []byte("x")}}
	if !slices.EqualFunc(rc.Store, want, entryEqual) {
		t.Errorf("store %+v, want %+v", rc.Store, want)
	}
	f.ack(id, 21)
	if v, err := wait(t, res); err != nil || v != 21 {
		t.Errorf("ReturnCont = %d, %v", v, err)
	}
}

func TestReturnContContextEndsFirst(t *testing.T) {
	checkNoLeaks(t)
	c, f := newFake(t)
	srv, _ := tcpPair(t)
	s := registered(t, c, f, srv, 6)
	ctx, cancel := context.WithCancel(context.Background())
	res := async(func() (uint64, error) {
		return s.ReturnCont(ctx, Continuation{Kind: System, Files: []File{{Conn: srv, Session: true}}})
	})
	expect[*proto.ReturnCont](f)
	cancel()
	if _, err := wait(t, res); !errors.Is(err, ErrOutcomeUnknown) {
		t.Errorf("ReturnCont = %v, want ErrOutcomeUnknown", err)
	}
	if _, err := srv.Write([]byte("x")); err != nil {
		t.Errorf("connection closed without an Ack: %v", err)
	}
}

func entryEqual(a, b Entry) bool {
	return a.Key == b.Key && string(a.Value) == string(b.Value) && a.Exported == b.Exported
}
