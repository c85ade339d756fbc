package supervisor

import (
	"context"
	"testing"
	"time"

	"github.com/migrate-run/migrate/contstore"
	"github.com/migrate-run/migrate/proto"
)

// The supervisor's descriptor count is the same after many suspend/resume
// cycles of a complete continuation as after the first, and the client sees
// one unbroken count across all of them: 1,000 cycles (about 30 s on an
// idle 2-core host, 50 s on a loaded one), 20 with -race or -short, where
// every process start is several times slower. Each cycle waits for the
// old process to be reaped, so nothing is counted in flight.
func TestCyclesKeepDescriptors(t *testing.T) {
	cycles := 1000
	if raceEnabled || testing.Short() {
		cycles = 20
	}
	h := newHarness(t, nil)
	app := h.startApp("cycler")
	cl := dialApp(t, app.expect("listening")[0])
	sid := contstore.SessionID(atou(t, app.expect("registered")[1]))
	var next uint64
	var first int
	start := time.Now()
	for i := range cycles {
		cl.expectRun(next, 2)
		next += 2
		cycle(t, h, app, sid)
		if i == 0 {
			first = stableFDs(t)
		}
	}
	cl.expectRun(next, 2)
	if got := stableFDs(t); got != first {
		t.Fatalf("%d descriptors open after %d cycles, %d after the first: %s", got, cycles, first, fdList())
	}
	t.Logf("%d cycles in %v", cycles, time.Since(start))
}

// cycle suspends the session's complete continuation and resumes it in a
// fresh process.
func cycle(t testing.TB, h *harness, app *testAppIO, sid contstore.SessionID) {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		_, err := h.s.Suspend(context.Background(), sid, proto.ReasonOperator)
		done <- err
	}()
	cont := contstore.ID(atou(t, app.expect("acked")[1]))
	rec, err := h.s.store.Get(cont)
	if err != nil {
		t.Fatal(err)
	}
	h.s.mu.Lock()
	old := h.s.procs[rec.OldPID]
	var oldConns []*conn
	for c := range h.s.conns {
		if int(c.cred.Pid) == rec.OldPID {
			oldConns = append(oldConns, c)
		}
	}
	h.s.mu.Unlock()
	app.proceed()
	if err := <-done; err != nil {
		t.Fatalf("Suspend: %v", err)
	}
	if old != nil {
		<-old.exited // reaped: its pidfd is closed
	}
	for _, c := range oldConns {
		<-c.done // hung up: its control socket is closed
	}
	if _, err := h.s.Resume(context.Background(), cont); err != nil {
		t.Fatalf("Resume: %v", err)
	}
	app.expect("resumed")
}

// stableFDs counts the test process's descriptors once the count holds
// still: goroutines close a departed peer's socket just after it leaves,
// and nothing signals that.
func stableFDs(t testing.TB) int {
	t.Helper()
	last := openFDs(t)
	for range 100 {
		time.Sleep(5 * time.Millisecond)
		n := openFDs(t)
		if n == last {
			return n
		}
		last = n
	}
	return last
}
