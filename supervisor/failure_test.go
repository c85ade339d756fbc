package supervisor

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/migrate-run/migrate/contstore"
	"github.com/migrate-run/migrate/proto"
)

// An app killed while it handles a SuspendRequest leaves its session
// registered (not suspended) and nothing stored.
func TestKilledMidSuspend(t *testing.T) {
	h := newHarness(t, nil)
	app := h.startApp("fragile", kindEnv+"=die")
	cl := dialApp(t, app.expect("listening")[0])
	sid := contstore.SessionID(atou(t, app.expect("registered")[1]))
	before, _ := h.s.store.Stats()
	_, err := h.s.Suspend(context.Background(), sid, proto.ReasonOperator)
	if !errors.Is(err, ErrNoProcess) {
		t.Fatalf("Suspend of a dying app: %v, want ErrNoProcess", err)
	}
	after, _ := h.s.store.Stats()
	if after.Continuations != 0 || after.TxID != before.TxID {
		t.Fatalf("store changed: %d continuations, %d commits", after.Continuations, after.TxID-before.TxID)
	}
	assertSessionStates(t, h, map[contstore.SessionID]sessionState{sid: sessionActive})
	if _, err := h.s.Suspend(context.Background(), sid, proto.ReasonOperator); !errors.Is(err, ErrNoProcess) {
		t.Fatalf("second Suspend: %v, want ErrNoProcess (nobody left to ask)", err)
	}
	// The supervisor let go of the connection: the client sees it end.
	_ = cl.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, err := cl.c.Read(make([]byte, 1)); n != 0 || err == nil {
		t.Fatalf("client read %d bytes, %v; want end of stream", n, err)
	}
}

// An app that misses the deadline keeps its session: Suspend fails with
// ErrTimeout, the late ReturnCont gets Error timeout, nothing is stored,
// and the descriptors it carried are closed.
func TestSuspendTimeout(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.SuspendTimeout = 200 * time.Millisecond })
	app := h.startApp("slow", kindEnv+"=late")
	cl := dialApp(t, app.expect("listening")[0])
	sid := contstore.SessionID(atou(t, app.expect("registered")[1]))
	cl.expectRun(0, 1)
	_, err := h.s.Suspend(context.Background(), sid, proto.ReasonOperator)
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("Suspend: %v, want ErrTimeout", err)
	}
	assertSessionStates(t, h, map[contstore.SessionID]sessionState{sid: sessionActive})
	sess := h.s.Sessions("slow")[0]
	app.proceed() // now the app answers, too late
	got := app.expect("refused")
	if got[1] != fmt.Sprint(int(proto.CodeTimeout)) {
		t.Fatalf("late ReturnCont answered %v, want timeout (%d)", got, proto.CodeTimeout)
	}
	if n := fdsOn(t, sess.Conn.Ino); n != 1 {
		t.Fatalf("%d descriptors of the session's socket, want 1 (the session dup; the late slot closed)", n)
	}
	if st, _ := h.s.store.Stats(); st.Continuations != 0 {
		t.Fatalf("%d continuations stored after a late answer", st.Continuations)
	}
	cl.expectRun(1, 2) // the app still serves its session
}

// A supervisor restarted over the same store marks the continuations the
// previous run held as lost, except a continuation whose descriptors are
// all regular files, which it reopens at the same offset and keeps
// suspended.
func TestRestartMarksLost(t *testing.T) {
	h := newHarness(t, nil)
	app := h.startApp("first", kindEnv+"=internal")
	dialApp(t, app.expect("listening")[0])
	sid := contstore.SessionID(atou(t, app.expect("registered")[1]))
	sockCont := suspendAcked(t, h, app, sid)
	fileCont := putFileCont(t, h, app.app)
	h.stop()

	h2 := startHarness(t, h.cfg)
	if rec, _ := h2.s.store.Get(sockCont); rec.State != contstore.StateLost {
		t.Errorf("socket continuation is %s after restart, want lost", rec.State)
	}
	rec, _ := h2.s.store.Get(fileCont)
	if rec.State != contstore.StateSuspended {
		t.Fatalf("file continuation is %s after restart, want suspended", rec.State)
	}
	info, err := h2.s.Show(fileCont, false)
	if err != nil || len(info.Held) != 1 || info.Slots[0].HeldFD < 0 {
		t.Fatalf("file continuation not held again: %+v, %v", info, err)
	}
	off, err := seekCur(info.Held[0])
	if err != nil || off != rec.Slots[0].Desc.Offset {
		t.Fatalf("reopened at offset %d (%v), want %d", off, err, rec.Slots[0].Desc.Offset)
	}
}
