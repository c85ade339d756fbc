package tests

import (
	"context"
	"testing"
	"time"

	"github.com/migrate-run/migrate/contstore"
)

// TestInternalContinuationOthersStreamOn runs broadcast-server with three
// clients, suspends one client's session (an internal continuation: the
// process stays) and holds it while the others receive 100 more lines, then
// resumes it into the same process: the others never paused or lost a line,
// the suspended client received nothing while suspended and resumes with
// no gap.
func TestInternalContinuationOthersStreamOn(t *testing.T) {
	const interval = 10 * time.Millisecond
	d := startDaemon(t)
	_, addr := d.broadcastApp(interval)
	clients := []*stream{dialBroadcast(t, addr), dialBroadcast(t, addr), dialBroadcast(t, addr)}
	sessions := d.waitSessions(3)
	victim, others := clients[0], clients[1:]
	var sess contstore.SessionID
	var serverPID int
	for _, s := range sessions {
		if s.Conn.Peer == victim.conn.LocalAddr().String() {
			sess, serverPID = s.ID, s.PID
		}
	}
	if sess == 0 {
		t.Fatalf("no session for client %s in %+v", victim.conn.LocalAddr(), sessions)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, o := range others {
		if _, _, err := o.waitPast(ctx, 0); err != nil {
			t.Fatal(err)
		}
		o.resetGap()
	}

	var sus struct{ Continuations []contstore.ID }
	d.ctlJSON(&sus, "suspend", sess.String())
	id := sus.Continuations[0]
	list := d.conts()
	if len(list) != 1 || list[0].Kind != contstore.KindInternal || list[0].State != contstore.StateSuspended || list[0].OldPID != serverPID {
		t.Fatalf("list %+v: want one internal continuation suspended from pid %d", list, serverPID)
	}
	held, _, _ := victim.state()
	for _, o := range others {
		last, _, _ := o.state()
		if _, _, err := o.waitPast(ctx, last+100); err != nil {
			t.Fatalf("another client while one is suspended: %v", err)
		}
	}
	if now, _, _ := victim.state(); now > held+1 { // a line in flight at the suspend may land
		t.Errorf("the suspended client received up to %d after the suspend at %d", now, held)
	}

	var res struct{ PID int }
	d.ctlJSON(&res, "resume", id.String())
	if res.PID != 0 {
		t.Errorf("an internal resume started pid %d, want none (0)", res.PID)
	}
	last, _, _ := victim.state()
	if _, _, err := victim.waitPast(ctx, last+50); err != nil {
		t.Fatalf("the resumed client: %v", err)
	}
	for i, o := range others {
		if _, _, err := o.waitPast(ctx, 0); err != nil {
			t.Errorf("client %d: %v", i+1, err)
		}
		if gap := o.resetGap(); gap > 50*interval {
			t.Errorf("client %d waited %v for a line during the suspend and resume, want no pause (lines every %v)", i+1, gap, interval)
		}
	}
	again := d.waitSessions(3)
	for _, s := range again {
		if s.PID != serverPID {
			t.Errorf("session %v runs in pid %d, want the one broadcast-server process %d", s.ID, s.PID, serverPID)
		}
	}
}

// broadcastApp runs broadcast-server under d and returns it and its address.
func (d *daemon) broadcastApp(interval time.Duration) (*app, string) {
	d.t.Helper()
	a := d.runApp("broadcast", []string{"--listen", "tcp://127.0.0.1:0"}, binPath(d.t, "broadcast-server"), "--interval", interval.String())
	m := a.waitLine(`^broadcast-server: listening on (\S+)$`)
	return a, m[1]
}
