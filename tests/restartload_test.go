package tests

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/migrate-run/migrate/supervisor"
)

// The runs of TestRestartUnderLoadRefusesNothing.
const (
	loadWorkers     = 4                // hammer's connecting goroutines
	loadMinRestarts = 20               // each run lasts until the server restarted this often,
	loadMin         = 3 * time.Second  // and at least this long,
	loadMax         = 30 * time.Second // and is cut off here
	loadExitAfter   = "20"             // connections each sdserver serves before it exits 3
)

// TestRestartUnderLoadRefusesNothing restarts sdserver under migrate-run
// at least 20 times while hammer's four workers connect without pause and
// read its first line, in three runs of at least 3 s each:
//
//   - held socket: migrate-run holds the listening socket and the load
//     itself drives the restarts (sdserver exits 3 after 20 connections,
//     --restart always starts the next). No connection may be refused or
//     fail otherwise: those that arrive between two processes wait in the
//     socket's backlog.
//   - held socket, operator restarts: the same socket, and migratectl
//     restart every 50 ms (SIGTERM, sdserver drains and exits 0, a new one
//     starts). Again nothing may be refused or fail.
//   - own port: the same as the first run, but sdserver binds its port
//     itself (--listen HOST:PORT, no LISTEN_FDS), as a server does without
//     a socket-holding manager. Connections must be refused: what the held
//     socket saves its clients.
//
// The counts are logged for docs/bench.md.
func TestRestartUnderLoadRefusesNothing(t *testing.T) {
	sdserver := binPath(t, "sdserver")
	always := []string{"--restart", "always", "--restart-delay", "1ms", "--restart-max-delay", "1ms", "--start-limit-interval", "0"}
	var held, operated, own loadRun

	t.Run("held socket", func(t *testing.T) {
		svc := runService(t, "held", append([]string{"--listen", "tcp://127.0.0.1:0"}, always...), sdserver, "--exit-after", loadExitAfter)
		held = underLoad(t, svc.servingAddr(), svc.restarts)
		held.check(t, false)
	})
	t.Run("held socket, operator restarts", func(t *testing.T) {
		svc := runService(t, "operated", []string{"--listen", "tcp://127.0.0.1:0"}, sdserver)
		restarts := 0
		operated = underLoad(t, svc.servingAddr(), func() (int, error) {
			out, err := svc.sup.ctl("restart", svc.name)
			if err == nil && !strings.HasPrefix(out, "restarted "+svc.name+" (pid ") {
				err = fmt.Errorf("migratectl restart %s printed %q", svc.name, out)
			}
			if err == nil {
				restarts++
			}
			return restarts, err
		})
		operated.check(t, false)
	})
	t.Run("own port", func(t *testing.T) {
		addr := fmt.Sprintf("127.0.0.1:%d", portBelowEphemeral(t))
		svc := runService(t, "own", always, sdserver, "--listen", addr, "--exit-after", loadExitAfter)
		if got := svc.servingAddr(); got != addr {
			t.Fatalf("sdserver serves %s, want the --listen %s it was given", got, addr)
		}
		own = underLoad(t, addr, svc.restarts)
		own.check(t, true)
	})
	t.Logf("held sockets: %v; held sockets, migratectl restart: %v; own port: %v", held, operated, own)
}

// loadRun is what one run of underLoad counted.
type loadRun struct {
	loadResult
	restarts int
	took     time.Duration
}

func (r loadRun) String() string {
	other := 0
	for _, n := range r.Other {
		other += n
	}
	s := fmt.Sprintf("%d connections, %d refused over %d restarts in %.1fs", r.OK+r.Refused+other, r.Refused, r.restarts, r.took.Seconds())
	if other > 0 {
		s += fmt.Sprintf(" (and %d failed otherwise: %v)", other, r.Other)
	}
	return s
}

// check fails the test unless the run restarted the server often enough
// and served connections, and unless it refused some (refusals) or
// nothing failed at all (!refusals).
func (r loadRun) check(t *testing.T, refusals bool) {
	t.Helper()
	t.Log(r)
	if r.restarts < loadMinRestarts {
		t.Errorf("%d restarts within %v, want at least %d", r.restarts, loadMax, loadMinRestarts)
	}
	if r.OK == 0 {
		t.Error("no connection served")
	}
	switch {
	case refusals && r.Refused == 0:
		t.Error("no connection refused: the restarts went unnoticed, and the held socket's run proves nothing")
	case !refusals && (r.Refused != 0 || len(r.Other) != 0):
		t.Errorf("%d connections refused and %v failed otherwise, want none", r.Refused, r.Other)
	}
}

// underLoad runs hammer against addr while calling restarted every 50 ms,
// which returns how often the server has restarted so far (and may
// restart it). The load lasts loadMin, then until loadMinRestarts
// restarts, and stops at loadMax.
func underLoad(t *testing.T, addr string, restarted func() (int, error)) loadRun {
	t.Helper()
	start := time.Now()
	ctx, cancel := context.WithDeadline(context.Background(), start.Add(loadMax))
	results := make(chan loadResult, 1)
	go func() { results <- hammer(ctx, addr, loadWorkers) }()
	stop := func() loadResult { cancel(); return <-results }
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var run loadRun
	for !runOver(ctx) && (run.restarts < loadMinRestarts || time.Since(start) < loadMin) {
		n, err := restarted()
		if err != nil {
			stop()
			t.Fatal(err)
		}
		run.restarts = n
		<-tick.C
	}
	run.loadResult = stop()
	run.took = time.Since(start)
	return run
}

// restarts is Restarts of migratectl status.
func (s *service) restarts() (int, error) {
	info, err := s.status()
	return info.Restarts, err
}

// servingAddr waits until sdserver is ready and returns the address its
// STATUS=serving ADDR gave.
func (s *service) servingAddr() string {
	s.t.Helper()
	info := s.waitStatus("serving", func(i supervisor.AppInfo) bool {
		return i.Ready && strings.HasPrefix(i.StatusText, "serving ")
	})
	return strings.TrimPrefix(info.StatusText, "serving ")
}
