package supervisor

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/migrate-run/migrate/contstore"
	"github.com/migrate-run/migrate/proto"
)

// An internal continuation goes back to the running process that sent
// Attach: AttachSession carries the held connection and the store, the
// process answers Ack, the session is live again and the client sees no
// gap.
func TestResumeInternal(t *testing.T) {
	h := newHarness(t, nil)
	app := h.startApp("bcast", kindEnv+"=internal")
	cl := dialApp(t, app.expect("listening")[0])
	sid := contstore.SessionID(atou(t, app.expect("registered")[1]))
	cl.expectRun(0, 2)
	cont := suspendAcked(t, h, app, sid)
	if rec, _ := h.s.store.Get(cont); rec.Kind != contstore.KindInternal || rec.Exec != nil {
		t.Fatalf("record kind %s, exec %v; want internal without exec", rec.Kind, rec.Exec)
	}
	if _, err := h.s.Resume(context.Background(), cont); err != nil {
		t.Fatalf("Resume: %v", err)
	}
	got := app.expect("attached")
	if contstore.ID(atou(t, got[0])) != cont || contstore.SessionID(atou(t, got[1])) != sid {
		t.Fatalf("attached %v, want cont %v session %v", got, cont, sid)
	}
	cl.expectRun(2, 2)
	if rec, _ := h.s.store.Get(cont); rec.State != contstore.StateResumed {
		t.Fatalf("record in %s after the attach, want resumed", rec.State)
	}
}

// Without an attach handler an internal continuation cannot be resumed: it
// stays suspended, its descriptors held.
func TestResumeInternalWithoutAttach(t *testing.T) {
	h := newHarness(t, nil)
	app := h.startApp("noattach", kindEnv+"=internal")
	cl := dialApp(t, app.expect("listening")[0])
	sid := contstore.SessionID(atou(t, app.expect("registered")[1]))
	cont := suspendAcked(t, h, app, sid)
	// The helper registered Attach; take it away by closing its connection
	// is not possible from here, so stop the app's attach list instead.
	h.s.mu.Lock()
	app.app.attach = nil
	h.s.mu.Unlock()
	if _, err := h.s.Resume(context.Background(), cont); !errors.Is(err, ErrNoAttach) {
		t.Fatalf("Resume without attach handler: %v, want ErrNoAttach", err)
	}
	if rec, _ := h.s.store.Get(cont); rec.State != contstore.StateSuspended {
		t.Fatalf("record in %s, want suspended", rec.State)
	}
	_ = cl
}

// Suspending a session suspends the sessions that depend on it, never the
// other way round.
func TestDependencyCascade(t *testing.T) {
	h := newHarness(t, nil)
	app := h.startApp("deps", kindEnv+"=internal", connsEnv+"=3", depsEnv+"=1")
	addr := app.expect("listening")[0]
	var sids []contstore.SessionID
	for range 3 {
		dialApp(t, addr)
		sids = append(sids, contstore.SessionID(atou(t, app.expect("registered")[1])))
	}
	// Session 2 depends on 0 only: suspending it leaves 0 and 1 live.
	ids := suspendAll(t, h, app, sids[2], 1)
	if len(ids) != 1 {
		t.Fatalf("suspending a dependent returned %v", ids)
	}
	assertSessionStates(t, h, map[contstore.SessionID]sessionState{sids[0]: sessionActive, sids[1]: sessionActive, sids[2]: sessionSuspended})
	ids = suspendAll(t, h, app, sids[0], 2) // 0 and its live dependent 1
	if len(ids) != 2 {
		t.Fatalf("suspending session 0 returned %v, want it and session 1's", ids)
	}
	assertSessionStates(t, h, map[contstore.SessionID]sessionState{sids[0]: sessionSuspended, sids[1]: sessionSuspended, sids[2]: sessionSuspended})
}

func assertSessionStates(t *testing.T, h *harness, want map[contstore.SessionID]sessionState) {
	t.Helper()
	h.s.mu.Lock()
	defer h.s.mu.Unlock()
	for id, st := range want {
		if sess := h.s.sessions[id]; sess == nil || sess.state != st {
			t.Errorf("session %v: %+v, want %s", id, sess, st)
		}
	}
}

// suspendAcked suspends sid, lets the app go on after its Ack and returns
// the continuation.
func suspendAcked(t *testing.T, h *harness, app *testAppIO, sid contstore.SessionID) contstore.ID {
	t.Helper()
	ids := suspendAll(t, h, app, sid, 1)
	return ids[0]
}

// suspendAll suspends sid, expecting n Acks (the session's and its
// dependents'), and returns what Suspend returned.
func suspendAll(t *testing.T, h *harness, app *testAppIO, sid contstore.SessionID, n int) []contstore.ID {
	t.Helper()
	type result struct {
		ids []contstore.ID
		err error
	}
	done := make(chan result, 1)
	go func() {
		ids, err := h.s.Suspend(context.Background(), sid, proto.ReasonOperator)
		done <- result{ids, err}
	}()
	for range n {
		app.expect("acked")
		app.proceed()
	}
	select {
	case r := <-done:
		if r.err != nil {
			t.Fatalf("Suspend: %v", r.err)
		}
		return r.ids
	case <-time.After(20 * time.Second):
		t.Fatal("Suspend did not return")
	}
	return nil
}

// A continuation with a short expiry is dropped by the sweeper on its own:
// its held descriptors are closed and its record deleted.
func TestExpiry(t *testing.T) {
	h := newHarness(t, nil)
	app := h.startApp("short", kindEnv+"=internal", expiryEnv+"=1")
	cl := dialApp(t, app.expect("listening")[0])
	sid := contstore.SessionID(atou(t, app.expect("registered")[1]))
	cont := suspendAcked(t, h, app, sid)
	rec, _ := h.s.store.Get(cont)
	sock := rec.Slots[0].Desc.Ino
	if n := fdsOn(t, sock); n != 1 {
		t.Fatalf("%d descriptors of the session's socket while suspended, want 1 (held; the session dup is released at suspend)", n)
	}
	if d := rec.Expires.Sub(rec.Created); d != time.Second {
		t.Fatalf("expiry %v after creation, want the 1s asked", d)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := h.s.store.Get(cont)
		if errors.Is(err, contstore.ErrNotFound) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the sweeper did not drop the expired continuation")
		}
		time.Sleep(20 * time.Millisecond) // the store has no change notification
	}
	if n := fdsOn(t, sock); n != 0 {
		t.Fatalf("%d descriptors of the session's socket after expiry, want 0", n)
	}
	if _, err := h.s.Resume(context.Background(), cont); !errors.Is(err, ErrUnknownCont) {
		t.Fatalf("Resume of an expired continuation: %v", err)
	}
	_ = cl
}
