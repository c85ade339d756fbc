package tests

import (
	"context"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/migrate-run/migrate/contstore"
	"github.com/migrate-run/migrate/supervisor"
)

// TestRestartAfterSIGKILLKeepsAcknowledgedContinuations kills migrated with
// SIGKILL while it holds two suspended sessions and starts it again over the
// same state directory: both continuations are still listed and shown as
// they were, marked lost because their held sockets died with the old
// process (so their clients' connections are closed, and resume refuses).
func TestRestartAfterSIGKILLKeepsAcknowledgedContinuations(t *testing.T) {
	d := startDaemon(t)
	_, addr := d.counterApp("counter", 5*time.Millisecond)
	streams := []*stream{dialStream(t, addr), dialStream(t, addr), dialStream(t, addr)}
	sessions := d.waitSessions(3)
	killAppsAtCleanup(t, d)

	ac := d.admin()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// The first two clients' sessions are suspended, the third stays active.
	byPeer := map[string]supervisor.SessionInfo{}
	for _, s := range sessions {
		byPeer[s.Conn.Peer] = s
	}
	before := map[contstore.ID]supervisor.ContInfo{}
	for _, s := range streams[:2] {
		sess, ok := byPeer[s.conn.LocalAddr().String()]
		if !ok {
			t.Fatalf("no session for client %s in %+v", s.conn.LocalAddr(), sessions)
		}
		ids, err := ac.Suspend(ctx, sess.ID)
		if err != nil || len(ids) != 1 {
			t.Fatalf("suspend %v: %v %v", sess.ID, ids, err)
		}
		ci, err := ac.Show(ctx, ids[0], true)
		if err != nil {
			t.Fatal(err)
		}
		before[ids[0]] = ci
	}
	ac.Close()

	d.kill()
	d.start()

	list := d.conts()
	if len(list) != len(before) {
		t.Fatalf("after the restart migratectl list shows %d continuations, want the %d acknowledged: %+v", len(list), len(before), list)
	}
	for _, ci := range list {
		was, ok := before[ci.ID]
		if !ok {
			t.Errorf("continuation %v was not acknowledged before the kill", ci.ID)
			continue
		}
		if ci.State != contstore.StateLost {
			t.Errorf("continuation %v is %s after the restart, want lost (its held socket died)", ci.ID, ci.State)
		}
		var show struct{ Continuation supervisor.ContInfo }
		d.ctlJSON(&show, "show", "--values", ci.ID.String())
		now := show.Continuation
		if now.App != was.App || now.Session != was.Session || now.OldPID != was.OldPID || now.Kind != was.Kind ||
			now.FDsBefore != was.FDsBefore || !now.Created.Equal(was.Created) || !slices.EqualFunc(now.Store, was.Store, sameEntry) ||
			len(now.Slots) != len(was.Slots) || now.Exec == nil || !slices.Equal(now.Exec.Args, was.Exec.Args) {
			t.Errorf("continuation %v changed across the restart:\nbefore %+v\nafter  %+v", ci.ID, was, now)
		}
		if _, err := d.ctl("resume", ci.ID.String()); err == nil {
			t.Errorf("resume of lost continuation %v succeeded", ci.ID)
		}
	}
	// The suspended sessions' sockets were held by the killed process only.
	for i, s := range streams[:2] {
		select {
		case <-s.done:
		case <-time.After(15 * time.Second):
			t.Errorf("client %d of a lost continuation is still connected 15s after the kill", i)
		}
	}
	if _, _, err := streams[2].state(); err != nil && !strings.Contains(err.Error(), "connection ended") {
		t.Errorf("the active session's stream: %v", err)
	}
}

func sameEntry(a, b supervisor.EntryInfo) bool {
	return a.Key == b.Key && a.Size == b.Size && string(a.Value) == string(b.Value) && a.Exported == b.Exported
}

// killAppsAtCleanup SIGKILLs, at cleanup, every process of d's apps as they
// are now: a SIGKILLed migrated stops none of them, and without cgroups
// nothing else finds them.
func killAppsAtCleanup(t *testing.T, d *daemon) {
	t.Helper()
	var r struct{ Apps []supervisor.AppInfo }
	d.ctlJSON(&r, "apps")
	t.Cleanup(func() {
		for _, a := range r.Apps {
			for _, pid := range a.Processes {
				if exe, err := os.Readlink("/proc/" + itoa(pid) + "/exe"); err == nil && strings.HasPrefix(exe, bins) {
					_ = syscall.Kill(pid, syscall.SIGKILL) // still ours, not a reused pid
				}
			}
		}
	})
}
