package supervisor

import (
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"github.com/migrate-run/migrate/contstore"
	"github.com/migrate-run/migrate/launcher"
)

// proc is a process the supervisor started, kept in Supervisor.procs from
// its start until it is reaped.
type proc struct {
	pid     int
	app     *App
	lp      *launcher.Process
	cont    contstore.ID // the continuation it resumes; 0 for a main process
	conn    *acceptor    // the accept socket whose connection it serves; nil for none
	started time.Time
	exited  chan struct{} // closed once reaped
	status  ExitStatus    // valid once exited is closed
}

// launchOpts says what a launched process is to the app.
type launchOpts struct {
	main bool         // the app's main process
	cont contstore.ID // the continuation a fresh process resumes
	conn *acceptor    // the accept socket whose connection it serves
}

// launch starts a process of app a: its main process, a fresh process
// resuming a continuation, or one serving an accepted connection. The start and the
// registration of its pid happen under startMu, which the reaper takes
// before it looks a reaped pid up, so no exit is missed however fast the
// process ends.
func (s *Supervisor) launch(a *App, spec launcher.Spec, lo launchOpts) (*proc, error) {
	s.startMu.Lock()
	defer s.startMu.Unlock()
	lp, err := launcher.Start(spec)
	if err != nil {
		return nil, fmt.Errorf("start process: %w", err)
	}
	cont := lo.cont
	p := &proc{pid: lp.Pid, app: a, lp: lp, cont: cont, conn: lo.conn, started: time.Now(), exited: make(chan struct{})}
	s.mu.Lock()
	s.procs[p.pid] = p
	if lo.main {
		// Before the reaper can see it exit: the exit status is the app's.
		a.main, a.started = p, p.started
	}
	if h := s.held[cont]; cont != 0 && h != nil {
		// Before the process can confirm: it runs from here on.
		h.resumer, h.launched = p, p.started
	}
	s.mu.Unlock()
	return p, nil
}

// reaped records the exit of pid, one of the supervisor's children: an
// app's main process makes the app exited; a fresh process that exits
// before confirming its resume puts its continuation back to suspended.
// Pids the supervisor did not start (a failed launch's trampoline, an
// orphan reparented to the subreaper) are ignored.
func (s *Supervisor) reaped(pid int, ws unix.WaitStatus) {
	s.startMu.Lock() // waits out a launch still registering pid
	s.mu.Lock()
	s.startMu.Unlock()
	p := s.procs[pid]
	if p == nil {
		a := s.mainPIDOwner(pid)
		s.mu.Unlock()
		if a != nil { // a MAINPID= process, reparented to the subreaper
			st := exitStatusOf(ws)
			s.log.Info().Str("app", a.name).Int("pid", pid).Int("code", st.Code).Str("signal", st.Signal).Msg("main process exited")
			s.endMain(a, st)
		}
		return
	}
	delete(s.procs, pid)
	p.status = exitStatusOf(ws)
	a := p.app
	// The main process's exit is the app's, unless it named another
	// process its main one with MAINPID= (a daemon that forked).
	isMain := a.main == p && (a.run.mainPID == 0 || a.run.mainPID == pid)
	if p.conn != nil {
		p.conn.finished()
	}
	if isMain {
		// Before exited is closed: whoever waits for it finds the app
		// moved on.
		st := p.status
		a.exit = &st
		s.mainExitedLocked(a, st)
	}
	s.mu.Unlock()
	_ = p.lp.Release()
	close(p.exited)
	s.log.Info().Str("app", a.name).Int("pid", pid).Int("code", p.status.Code).
		Str("signal", p.status.Signal).Bool("main", isMain).Msg("process exited")
	if p.cont != 0 {
		s.resumerExited(p)
	}
	s.checkDone(a)
}

// endMain records the main process's exit as the app's and moves the app
// on (lifecycle.go).
func (s *Supervisor) endMain(a *App, st ExitStatus) {
	s.mu.Lock()
	a.exit = &st
	s.mainExitedLocked(a, st)
	s.mu.Unlock()
	s.checkDone(a)
}

// mainPIDOwner returns the app whose MAINPID= is pid, or nil. The caller
// holds s.mu.
func (s *Supervisor) mainPIDOwner(pid int) *App {
	for _, a := range s.apps {
		if a.run.mainPID == pid {
			return a
		}
	}
	return nil
}

// liveProcs returns the app's processes still running: those in its cgroup,
// or without cgroups those the supervisor started and has not reaped.
func (s *Supervisor) liveProcs(a *App) []int {
	if a.group != nil {
		pids, err := a.group.Procs()
		if err == nil {
			return pids
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var pids []int
	for pid, p := range s.procs {
		if p.app == a {
			pids = append(pids, pid)
		}
	}
	return pids
}

// checkDone closes the app's done channel once its main process has exited,
// no process of it remains and none of its continuations is held.
func (s *Supervisor) checkDone(a *App) {
	s.mu.Lock()
	exited := a.endedLocked()
	held := 0
	for _, h := range s.held {
		if h.app == a {
			held++
		}
	}
	s.mu.Unlock()
	if !exited || held > 0 || len(s.liveProcs(a)) > 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !a.endedLocked() {
		return // started again meanwhile
	}
	if a.capture != nil {
		a.capture.closeWrites() // no process of the app will write again (until a start again renews it)
	}
	select {
	case <-a.done:
	default:
		close(a.done)
		s.log.Info().Str("app", a.name).Msg("app done")
	}
}

// endedLocked reports whether the app's main process ended for good: it
// exited and no restart is due. The caller holds s.mu.
func (a *App) endedLocked() bool {
	return (a.exit != nil && !a.run.pending && a.run.state != StateRestarting) || a.orphan
}

// signalPid signals pid through a pidfd, so a reused pid is never
// signalled.
func signalPid(pid int, sig unix.Signal) error {
	pr, err := os.FindProcess(pid)
	if err != nil {
		return err
	}
	defer pr.Release()
	return pr.Signal(sig)
}

// signalApp sends sig to every live process of the app.
func (s *Supervisor) signalApp(a *App, sig unix.Signal) {
	s.mu.Lock()
	var ps []*proc
	for _, p := range s.procs {
		if p.app == a {
			ps = append(ps, p)
		}
	}
	s.mu.Unlock()
	for _, p := range ps {
		_ = p.lp.Signal(sig)
	}
	if a.group == nil {
		return
	}
	pids, _ := a.group.Procs()
	for _, pid := range pids {
		// FindProcess holds a pidfd: a reused pid is never signalled,
		// and Release closes the descriptor now rather than at GC.
		if pr, err := os.FindProcess(pid); err == nil {
			_ = pr.Signal(sig)
			_ = pr.Release()
		}
	}
}
