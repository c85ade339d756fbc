package tests

import (
	"strings"
	"testing"
	"time"

	"github.com/migrate-run/migrate/contstore"
)

// TestExpiryDropsTheContinuation suspends a session under a 3s expiry and
// waits: the supervisor closes the held connection (the client sees it
// end), migratectl list no longer shows the continuation, resume refuses
// it, and the supervisor is back to the descriptors it had before the
// client came (the serving process exited at the suspend).
func TestExpiryDropsTheContinuation(t *testing.T) {
	const expiry = 3 * time.Second
	d := startDaemon(t, "--default-expiry", expiry.String(), "--max-expiry", expiry.String())
	_, addr := d.counterApp("counter", 5*time.Millisecond)
	fdsBefore := settledFDs(t, d.pid(), -1) // before the client: no session, no process of its own
	s := dialStream(t, addr)
	sess := d.waitSessions(1)[0]

	var sus struct{ Continuations []contstore.ID }
	d.ctlJSON(&sus, "suspend", sess.ID.String())
	id := sus.Continuations[0]
	list := d.conts()
	if len(list) != 1 || list[0].ID != id || list[0].State != contstore.StateSuspended {
		t.Fatalf("list right after suspend: %+v, want continuation %v suspended", list, id)
	}
	expires := list[0].Expires
	if left := time.Until(expires); left <= 0 || left > expiry {
		t.Fatalf("continuation %v expires at %v, %v from now; want within %v", id, expires, left, expiry)
	}

	select {
	case <-s.done:
	case <-time.After(expiry + 15*time.Second):
		t.Fatalf("the client is still connected %v after the continuation expired", 15*time.Second)
	}
	if ended := time.Now(); ended.Before(expires.Add(-100 * time.Millisecond)) {
		t.Errorf("the connection closed at %v, before the expiry %v", ended, expires)
	}
	if _, _, err := s.state(); err == nil || !strings.Contains(err.Error(), "connection ended") {
		t.Errorf("client stream: %v, want a clean end of the connection", err)
	}

	deadline := time.Now().Add(10 * time.Second)
	for {
		shown := false
		for _, ci := range d.conts() {
			shown = shown || ci.ID == id
		}
		if !shown {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("migratectl list still shows continuation %v 10s after it expired", id)
		}
		time.Sleep(20 * time.Millisecond) // the record's deletion follows the close; no event for it
	}
	if out, err := d.ctl("resume", id.String()); err == nil {
		t.Errorf("resume of expired continuation %v succeeded: %s", id, out)
	}
	if n := settledFDs(t, d.pid(), fdsBefore); n != fdsBefore {
		t.Errorf("migrated has %d descriptors after the expiry, %d before the client came", n, fdsBefore)
	}
}

// TestDropClosesTheConnection drops a suspended continuation with
// migratectl drop: the held connection is closed (the client sees it end),
// resume refuses the id, and migrated is back to its descriptors.
func TestDropClosesTheConnection(t *testing.T) {
	d := startDaemon(t)
	_, addr := d.counterApp("counter", 5*time.Millisecond)
	fdsBefore := settledFDs(t, d.pid(), -1)
	s := dialStream(t, addr)
	sess := d.waitSessions(1)[0]
	var sus struct{ Continuations []contstore.ID }
	d.ctlJSON(&sus, "suspend", sess.ID.String())
	id := sus.Continuations[0]

	out, err := d.ctl("drop", id.String())
	if err != nil || out != "continuation "+id.String()+" dropped\n" {
		t.Fatalf("migratectl drop: %v %q", err, out)
	}
	select {
	case <-s.done:
	case <-time.After(15 * time.Second):
		t.Fatal("the client is still connected 15s after its continuation was dropped")
	}
	for _, ci := range d.conts() {
		if ci.ID == id && ci.State != contstore.StateDropped {
			t.Errorf("continuation %v is %s after drop, want dropped or gone", id, ci.State)
		}
	}
	if _, err := d.ctl("resume", id.String()); err == nil {
		t.Errorf("resume of dropped continuation %v succeeded", id)
	}
	if _, err := d.ctl("drop", id.String()); err == nil {
		t.Errorf("a second drop of continuation %v succeeded", id)
	}
	if n := settledFDs(t, d.pid(), fdsBefore); n != fdsBefore {
		t.Errorf("migrated has %d descriptors after the drop, %d before the client came", n, fdsBefore)
	}
}
