package supervisor

import (
	"context"
	"errors"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/migrate-run/migrate/contstore"
)

// A complete resume commits suspended → resuming while its fresh process
// starts. When that commit fails (here the record went missing behind the
// supervisor's back), the fresh process must not take the session over:
// it is killed before it can confirm, Resume returns the store's error,
// and the continuation stays held and suspended.
func TestResumeNotRecordedKillsTheFreshProcess(t *testing.T) {
	h := newHarness(t, nil)
	app := h.startApp("counter")
	cl := dialApp(t, app.expect("listening")[0])
	sid := contstore.SessionID(atou(t, app.expect("registered")[1]))
	cl.expectRun(0, 1)
	cont := suspendAcked(t, h, app, sid)
	if err := h.s.store.Delete(cont); err != nil {
		t.Fatal(err)
	}

	res, err := h.s.Resume(context.Background(), cont)
	if !errors.Is(err, contstore.ErrNotFound) {
		t.Fatalf("Resume of a continuation whose record is gone: %v, want ErrNotFound", err)
	}
	if res.PID == 0 {
		t.Fatal("no fresh process was started: the commit did not overlap the launch")
	}
	if err := unix.Kill(res.PID, 0); !errors.Is(err, unix.ESRCH) {
		t.Errorf("fresh process %d after the failed resume: kill 0 says %v, want it gone", res.PID, err)
	}
	h.s.mu.Lock()
	hc := h.s.held[cont]
	var state contstore.State
	var fds int
	if hc != nil {
		state, fds = hc.state, len(hc.fds)
	}
	h.s.mu.Unlock()
	if hc == nil || state != contstore.StateSuspended || fds != 1 {
		t.Errorf("after the failed resume the continuation is held %v in state %q with %d descriptors, want held, suspended, 1", hc != nil, state, fds)
	}
}
