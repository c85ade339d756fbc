package tests

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/migrate-run/migrate/contstore"
	"github.com/migrate-run/migrate/supervisor"
)

// TestDependentSessionsSuspendTogether runs e2eapp deps, whose later
// sessions depend on the first ("main"). Suspending a dependent suspends
// only it (main streams on); suspending main suspends its dependent too,
// main's continuation first. Every resumed stream goes on with no gap.
func TestDependentSessionsSuspendTogether(t *testing.T) {
	d := startDaemon(t)
	a := d.runApp("deps", []string{"--listen", "tcp://127.0.0.1:0"}, binPath(t, "e2eapp"), "deps", "--interval", "5ms")
	addr := a.waitLine(`^e2eapp: listening on (\S+)$`)[1]
	main := dialStream(t, addr)
	a.waitLine(`^e2eapp: session \d+ \(main\)`) // the first client's session is main
	dep1 := dialStream(t, addr)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	byPeer := sessionsByPeer(d.waitSessions(2))
	mainSess, dep1Sess := byPeer[main.conn.LocalAddr().String()], byPeer[dep1.conn.LocalAddr().String()]
	if mainSess.Name != "main" || dep1Sess.Name != "dependent" || !slices.Equal(dep1Sess.DependsOn, []contstore.SessionID{mainSess.ID}) {
		t.Fatalf("sessions main %+v, dependent %+v: want the dependent to depend on main", mainSess, dep1Sess)
	}

	// One direction only: the dependent goes alone.
	var sus struct{ Continuations []contstore.ID }
	d.ctlJSON(&sus, "suspend", dep1Sess.ID.String())
	if len(sus.Continuations) != 1 {
		t.Fatalf("suspending the dependent returned %v, want its continuation only", sus.Continuations)
	}
	held, _, _ := dep1.state()
	last, _, _ := main.state()
	if _, _, err := main.waitPast(ctx, last+20); err != nil {
		t.Fatalf("main while its dependent is suspended: %v", err)
	}
	if now, _, _ := dep1.state(); now > held+1 {
		t.Errorf("the suspended dependent received up to %d after %d", now, held)
	}
	resumeAll(t, d, sus.Continuations)
	if _, _, err := dep1.waitPast(ctx, held+20); err != nil {
		t.Fatalf("the dependent after its resume: %v", err)
	}

	// The cascade: suspending main takes a new dependent along.
	dep2 := dialStream(t, addr)
	byPeer = sessionsByPeer(d.waitSessions(3))
	dep2Sess := byPeer[dep2.conn.LocalAddr().String()]
	if !slices.Equal(dep2Sess.DependsOn, []contstore.SessionID{mainSess.ID}) {
		t.Fatalf("the new session %+v does not depend on main %v", dep2Sess, mainSess.ID)
	}
	d.ctlJSON(&sus, "suspend", mainSess.ID.String())
	conts := map[contstore.ID]supervisor.ContInfo{}
	for _, ci := range d.conts() {
		conts[ci.ID] = ci
	}
	if len(sus.Continuations) < 2 || conts[sus.Continuations[0]].Session != mainSess.ID {
		t.Fatalf("suspending main returned %v, want main's continuation first and its dependent's", sus.Continuations)
	}
	var cascaded bool
	for _, id := range sus.Continuations[1:] {
		ci := conts[id]
		cascaded = cascaded || ci.Session == dep2Sess.ID
		if ci.State != contstore.StateSuspended {
			t.Errorf("continuation %v of session %v is %s, want suspended", id, ci.Session, ci.State)
		}
	}
	if !cascaded {
		t.Fatalf("suspending main did not suspend its dependent %v: %v", dep2Sess.ID, sus.Continuations)
	}
	mainHeld, _, _ := main.state()
	dep2Held, _, _ := dep2.state()
	resumeAll(t, d, sus.Continuations)
	for name, s := range map[string]*stream{"main": main, "dependent": dep2} {
		held := mainHeld
		if s == dep2 {
			held = dep2Held
		}
		if _, _, err := s.waitPast(ctx, held+20); err != nil {
			t.Errorf("%s after the resume: %v", name, err)
		}
	}
}

func sessionsByPeer(list []supervisor.SessionInfo) map[string]supervisor.SessionInfo {
	m := map[string]supervisor.SessionInfo{}
	for _, s := range list {
		m[s.Conn.Peer] = s
	}
	return m
}

// resumeAll resumes each continuation with migratectl.
func resumeAll(t *testing.T, d *daemon, ids []contstore.ID) {
	t.Helper()
	for _, id := range ids {
		if _, err := d.ctl("resume", id.String()); err != nil {
			t.Fatal(err)
		}
	}
}
