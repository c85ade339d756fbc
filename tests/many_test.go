package tests

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/migrate-run/migrate/contstore"
)

// TestManySessionsAtOnce suspends 64 sessions concurrently (64 migratectl
// at once), then resumes all 64 concurrently; every client's stream goes on
// with no gap or duplicate.
func TestManySessionsAtOnce(t *testing.T) {
	const n = 64
	// 750 lines 20ms apart: 15s of stream, so that no client is done
	// before all 64 are registered and suspended on a loaded machine.
	const count = 750
	d := startDaemon(t)
	_, addr := d.counterApp("counter", 20*time.Millisecond)
	clients := make([]*client, n)
	for i := range clients {
		clients[i] = startClient(t, addr, count)
	}
	sessions := d.waitSessions(n)

	ids := make([]contstore.ID, n)
	parallel(t, n, func(i int) error {
		var r struct{ Continuations []contstore.ID }
		if err := d.ctlJSONErr(&r, "suspend", sessions[i].ID.String()); err != nil {
			return err
		}
		if len(r.Continuations) != 1 {
			return fmt.Errorf("suspend %v: continuations %v, want one", sessions[i].ID, r.Continuations)
		}
		ids[i] = r.Continuations[0]
		return nil
	})
	var suspended int
	for _, ci := range d.conts() {
		if ci.State == contstore.StateSuspended {
			suspended++
		}
	}
	if suspended != n {
		t.Fatalf("%d continuations suspended, want %d", suspended, n)
	}

	pids := make([]int, n)
	parallel(t, n, func(i int) error {
		var r struct{ PID int }
		if err := d.ctlJSONErr(&r, "resume", ids[i].String()); err != nil {
			return err
		}
		pids[i] = r.PID
		return nil
	})
	seen := map[int]bool{}
	for i, pid := range pids {
		if pid == 0 || seen[pid] || pid == sessions[i].PID {
			t.Errorf("continuation %v resumed in pid %d: want a fresh process of its own", ids[i], pid)
		}
		seen[pid] = true
	}
	for i, c := range clients {
		out, err := c.wait(t)
		if want := fmt.Sprintf("ok: received %d numbers, last %d, no gap or duplicate\n", count, count); err != nil || out != want {
			t.Errorf("client %d: %v: %s", i, err, out)
		}
	}
}

// parallel runs fn(0..n-1) at once and fails the test with every error.
func parallel(t *testing.T, n int, fn func(i int) error) {
	t.Helper()
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = fn(i) }()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
}

// ctlJSONErr is ctlJSON for goroutines: it returns the error instead of
// failing the test.
func (d *daemon) ctlJSONErr(out any, args ...string) error {
	js, err := d.ctl(append([]string{"--json"}, args...)...)
	if err != nil {
		return err
	}
	if err := json.Unmarshal([]byte(js), out); err != nil {
		return fmt.Errorf("migratectl --json %v printed %q: %w", args, js, err)
	}
	return nil
}
