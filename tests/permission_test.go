package tests

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/migrate-run/migrate/contstore"
	"github.com/migrate-run/migrate/supervisor"
)

// TestAnotherAppCannotTouchASession runs two apps under one migrated: app
// counter with a suspended session and a live one, and app intruder, whose
// process tries the admin API on them (suspend, show, resume, drop) and
// poses as the fresh process of counter's continuation (Retrieve,
// StoreSize, Register, Confirm). Every attempt is refused, without naming
// app counter, and nothing changed: the continuation is still suspended with its store, the live
// session still streams, and the continuation then resumes with no gap.
func TestAnotherAppCannotTouchASession(t *testing.T) {
	d := startDaemon(t)
	_, addr := d.counterApp("counter", 5*time.Millisecond)
	victim, bystander := dialStream(t, addr), dialStream(t, addr)
	byPeer := sessionsByPeer(d.waitSessions(2))
	victimSess, liveSess := byPeer[victim.conn.LocalAddr().String()], byPeer[bystander.conn.LocalAddr().String()]
	var sus struct{ Continuations []contstore.ID }
	d.ctlJSON(&sus, "suspend", victimSess.ID.String())
	id := sus.Continuations[0]
	var show struct{ Continuation supervisor.ContInfo }
	d.ctlJSON(&show, "show", "--values", id.String())
	before := show.Continuation

	in := d.runApp("intruder", nil, binPath(t, "e2eapp"), "intruder", "--cont", id.String(), "--session", liveSess.ID.String())
	in.waitLine(`^done$`)
	t.Logf("app intruder:\n%s", in.log())
	attempts := 0
	for _, line := range strings.Split(in.log(), "\n") {
		what, verdict, ok := strings.Cut(line, ": ")
		if !ok || strings.HasPrefix(line, "e2eapp: ") {
			continue
		}
		attempts++
		if !strings.HasPrefix(verdict, "refused: ") ||
			!strings.Contains(verdict, "permission-denied") && !strings.Contains(verdict, "unknown-") {
			t.Errorf("app intruder: %s was %s; want refused as permission-denied or unknown", what, verdict)
		}
		if strings.Contains(verdict, "counter") {
			t.Errorf("app intruder: %s was %s: the refusal names the other app, counter", what, verdict)
		}
	}
	if attempts != 8 {
		t.Errorf("%d attempts reported, want 8:\n%s", attempts, in.log())
	}

	d.ctlJSON(&show, "show", "--values", id.String())
	after := show.Continuation
	if after.State != contstore.StateSuspended || after.OldPID != before.OldPID || len(after.Held) != len(before.Held) ||
		len(after.Store) != 1 || string(after.Store[0].Value) != string(before.Store[0].Value) {
		t.Errorf("continuation %v changed:\nbefore %+v\nafter  %+v", id, before, after)
	}
	for _, s := range d.sessions() {
		if s.ID == liveSess.ID && (s.State != "active" || s.PID != liveSess.PID) {
			t.Errorf("the live session is now %+v, was %+v", s, liveSess)
		}
		if s.App != "counter" {
			t.Errorf("session %v of app %s appeared", s.ID, s.App)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	last, _, _ := bystander.state()
	if _, _, err := bystander.waitPast(ctx, last+10); err != nil {
		t.Errorf("the live session: %v", err)
	}
	held, _, _ := victim.state()
	d.ctlJSON(&struct{ PID int }{}, "resume", id.String())
	if _, _, err := victim.waitPast(ctx, held+10); err != nil {
		t.Errorf("the continuation after the intruder: %v", err)
	}
}
