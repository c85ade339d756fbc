package tests

import (
	"context"
	"testing"
	"time"

	"github.com/migrate-run/migrate/contstore"
	"github.com/migrate-run/migrate/supervisor"
)

// cycle suspends a session and resumes its continuation through ac, and
// returns the fresh process's pid once the client got a number from it.
func cycle(t *testing.T, ac *supervisor.AdminClient, s *stream, sess contstore.SessionID) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ids, err := ac.Suspend(ctx, sess)
	if err != nil || len(ids) != 1 {
		t.Fatalf("suspend session %v: %v %v", sess, ids, err)
	}
	last, _, err := s.state()
	if err != nil {
		t.Fatal(err)
	}
	res, err := ac.Resume(ctx, ids[0])
	if err != nil {
		t.Fatalf("resume continuation %v: %v", ids[0], err)
	}
	if _, _, err := s.waitPast(ctx, last); err != nil {
		t.Fatal(err)
	}
	return res.PID
}

// TestDescriptorsStableOverCycles is issue 3's "done when": the descriptor
// counts of the supervisor and of the resumed app are the same after 1,000
// suspend/resume cycles as after the first (100 with -short).
func TestDescriptorsStableOverCycles(t *testing.T) {
	cycles := 1000
	if testing.Short() {
		cycles = 100
	}
	d := startDaemon(t)
	_, addr := d.counterApp("counter", time.Millisecond)
	s := dialStream(t, addr)
	sess := d.waitSessions(1)[0].ID
	ac := d.admin()

	pid := cycle(t, ac, s, sess)
	supFirst, appFirst := settledFDs(t, d.pid(), -1), settledFDs(t, pid, -1)
	start := time.Now()
	for range cycles - 1 {
		pid = cycle(t, ac, s, sess)
	}
	t.Logf("%d cycles in %v (%v each)", cycles-1, time.Since(start).Round(time.Millisecond),
		(time.Since(start) / time.Duration(cycles-1)).Round(time.Microsecond))
	supLast, appLast := settledFDs(t, d.pid(), supFirst), settledFDs(t, pid, appFirst)
	if supLast != supFirst {
		t.Errorf("migrated has %d descriptors after %d cycles, %d after the first", supLast, cycles, supFirst)
	}
	if appLast != appFirst {
		t.Errorf("the resumed counter-server has %d descriptors after %d cycles, %d after the first", appLast, cycles, appFirst)
	}
	if _, _, err := s.state(); err != nil {
		t.Errorf("the client's stream: %v", err)
	}
}

// settledFDs counts pid's descriptors once the count settles: with want >=
// 0 it polls for up to 5s until the count is want, otherwise until two
// counts 50ms apart agree. (The connection of a process that just exited
// closes in the supervisor a moment later, and nothing signals it.)
func settledFDs(t testing.TB, pid, want int) int {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	prev := -1
	for {
		n := fdCount(t, pid)
		if (want >= 0 && n == want) || (want < 0 && n == prev) || time.Now().After(deadline) {
			return n
		}
		prev = n
		time.Sleep(50 * time.Millisecond)
	}
}
