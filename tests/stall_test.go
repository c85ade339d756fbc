package tests

import (
	"context"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/migrate-run/migrate/supervisor"
)

// TestUnansweredAndKilledSuspends runs e2eapp stall, whose suspend handler
// never answers. A suspend that times out fails with a clear error and the
// session stays live and streaming. A suspend whose app is SIGKILLed while
// it holds the request fails too, and leaves nothing behind: no
// continuation record, nothing held, the client's connection closed, and
// migrated with the descriptors it had before the app started.
func TestUnansweredAndKilledSuspends(t *testing.T) {
	d := startDaemon(t, "--suspend-timeout", "2s")
	fdsBefore := settledFDs(t, d.pid(), -1)
	a := d.runApp("stall", []string{"--listen", "tcp://127.0.0.1:0"}, binPath(t, "e2eapp"), "stall", "--interval", "5ms")
	addr := a.waitLine(`^e2eapp: listening on (\S+)$`)[1]
	s := dialStream(t, addr)
	sess := d.waitSessions(1)[0]
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	out, err := d.ctl("suspend", sess.ID.String())
	t.Logf("suspend of a stalled app: %v", err)
	if err == nil || !strings.Contains(err.Error(), "exit status 1") || !strings.Contains(err.Error(), "time") {
		t.Fatalf("suspend of a session whose app does not answer: %v %s; want exit 1 and a timeout", err, out)
	}
	if now := d.waitSessions(1)[0]; now.ID != sess.ID || now.PID != sess.PID {
		t.Errorf("after the timeout the session is %+v, want %+v still active", now, sess)
	}
	if list := d.conts(); len(list) != 0 {
		t.Errorf("a timed-out suspend left continuations: %+v", list)
	}
	last, _, _ := s.state()
	if _, _, err := s.waitPast(ctx, last+10); err != nil {
		t.Fatalf("the session after the timed-out suspend: %v", err)
	}

	failed := make(chan error, 1)
	go func() { _, err := d.ctl("suspend", sess.ID.String()); failed <- err }()
	m := a.waitLines(`^e2eapp: pid (\d+) holds the suspend request`, 2)
	pid, _ := strconv.Atoi(m[1])
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-failed:
		if err == nil {
			t.Fatal("the suspend succeeded although the app was killed while it held the request")
		}
	case <-ctx.Done():
		t.Fatal("the suspend did not return after the app was killed")
	}
	select {
	case <-s.done:
	case <-ctx.Done():
		t.Fatal("the client is still connected after its app was killed mid-suspend")
	}
	var st supervisor.Stats
	d.ctlJSON(&st, "stats")
	if st.Continuations != 0 || st.HeldBefore != 0 || st.HeldAfter != 0 {
		t.Errorf("after the killed suspend: %d continuations, %d/%d held descriptors; want none", st.Continuations, st.HeldBefore, st.HeldAfter)
	}
	if list := d.conts(); len(list) != 0 {
		t.Errorf("a killed suspend left continuations: %+v", list)
	}
	select {
	case <-a.exited: // the app is done: migrate-run stopped it and left
	case <-ctx.Done():
		t.Fatal("migrate-run did not end after its app was killed")
	}
	if n := settledFDs(t, d.pid(), fdsBefore); n != fdsBefore {
		t.Errorf("migrated has %d descriptors, %d before the app started", n, fdsBefore)
	}
}

// waitLines is waitLine for the n-th line matching re.
func (a *app) waitLines(re string, n int) []string {
	a.t.Helper()
	rx := regexp.MustCompile(re)
	deadline := time.Now().Add(20 * time.Second)
	for {
		var seen [][]string
		for _, line := range strings.Split(a.log(), "\n") {
			if m := rx.FindStringSubmatch(line); m != nil {
				seen = append(seen, m)
			}
		}
		if len(seen) >= n {
			return seen[n-1]
		}
		if time.Now().After(deadline) {
			a.t.Fatalf("%d lines of %s matched %q within 20s, want %d:\n%s", len(seen), a.name, re, n, a.log())
		}
		time.Sleep(10 * time.Millisecond) // a log file: no event when it grows
	}
}
