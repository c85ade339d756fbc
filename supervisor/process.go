package supervisor

import (
	"errors"
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
// resuming a continuation, or one serving an accepted connection. Launches
// run concurrently, and no exit is missed however fast the process ends:
// the reaper parks the status of a pid it reaps while a launch that may own
// it is in flight, and the registration below claims it (see
// launchTable).
func (s *Supervisor) launch(a *App, spec launcher.Spec, lo launchOpts) (*proc, error) {
	s.mu.Lock()
	id := s.launches.begin()
	s.mu.Unlock()
	lp, err := launcher.Start(spec)
	started := time.Now()
	if err != nil {
		s.mu.Lock()
		s.launches.end(id)
		s.mu.Unlock()
		return nil, fmt.Errorf("start process: %w", err)
	}
	if s.launches.started != nil {
		s.launches.started(lp.Pid)
	}
	cont := lo.cont
	p := &proc{pid: lp.Pid, app: a, lp: lp, cont: cont, conn: lo.conn, started: started, exited: make(chan struct{})}
	s.mu.Lock()
	s.procs[p.pid] = p
	if lo.main {
		// Before the reaper can see it exit: the exit status is the app's.
		a.main, a.started = p, p.started
	}
	if h := s.held[cont]; cont != 0 && h != nil {
		// Before the reaper can see it exit. (It may have confirmed
		// already, its continuation no longer held: see resumeClock.)
		h.resumer = p
	}
	s.launches.claim(id, p.pid)
	s.launches.end(id)
	s.mu.Unlock()
	return p, nil
}

// logTrampoline makes launcher choose its trampoline binary, which it
// opens and keeps open, and logs which it is and why it is not the
// dedicated one (launcher.TrampolineName beside the supervisor's binary)
// when it is not: a refused one is a warning, a missing one only costs
// time. New calls it, so the descriptor is open before any app starts.
func (s *Supervisor) logTrampoline() {
	path, why := launcher.TrampolineInUse()
	switch {
	case errors.Is(why, launcher.ErrUnsafeTrampoline):
		s.log.Warn().Err(why).Str("trampoline", path).Msg("trampoline binary refused, processes start through the supervisor's own binary")
	case why != nil:
		s.log.Info().Err(why).Str("trampoline", path).Msg("no dedicated trampoline binary, processes start through the supervisor's own binary")
	default:
		s.log.Debug().Str("trampoline", path).Msg("trampoline binary")
	}
}

// launchTable lets launches run concurrently without losing an exit. A
// process may exit, and the reaper reap it, before launcher.Start has even
// returned its pid. The reaper parks the status of a pid that is not in
// procs while launches are in flight; the launch that registers the pid
// claims the status and queues it for the reaper, which then records the
// exit as if it had just reaped it. A parked status is claimed only by a
// launch that began before it was reaped, since the process existed before
// its exit, and it is dropped once every such launch has ended: the pid
// was then a process the supervisor did not start (a failed launch's
// trampoline, which launcher reaps or finds reaped, or an orphan). (A launch
// begun before the reap could only get that pid for its own process if the
// kernel handed out every other pid up to pid_max while it ran.) The zero
// value is ready; the first five fields are guarded by Supervisor.mu.
type launchTable struct {
	seq      uint64              // launches begun
	inflight map[uint64]struct{} // launches not ended, by sequence number
	parked   map[int]parkedExit  // statuses reaped while launches were in flight, by pid
	claimed  []reapedExit        // statuses claimed by their launch, for the reaper
	wake     chan struct{}       // signalled when claimed grows or a launch ends; see wakeChan

	// started, when set (by tests), runs between launcher.Start and the
	// registration of the pid.
	started func(pid int)
}

type parkedExit struct {
	ws  unix.WaitStatus
	seq uint64 // launches begun when it was reaped
}

type reapedExit struct {
	pid int
	ws  unix.WaitStatus
}

func (t *launchTable) begin() uint64 {
	if t.inflight == nil {
		t.inflight = map[uint64]struct{}{}
		t.parked = map[int]parkedExit{}
	}
	t.seq++
	t.inflight[t.seq] = struct{}{}
	return t.seq
}

// park keeps the status of pid, reaped and not registered, for a launch
// that may still register it. With no launch in flight nobody will: it is
// dropped.
func (t *launchTable) park(pid int, ws unix.WaitStatus) {
	if len(t.inflight) > 0 {
		t.parked[pid] = parkedExit{ws: ws, seq: t.seq}
	}
}

// claim queues the parked status of pid for the reaper, if launch id can
// own it.
func (t *launchTable) claim(id uint64, pid int) {
	if e, ok := t.parked[pid]; ok && id <= e.seq {
		delete(t.parked, pid)
		t.claimed = append(t.claimed, reapedExit{pid: pid, ws: e.ws})
	}
}

// end ends launch id, drops the parked statuses no launch in flight can
// own any more, and wakes the reaper.
func (t *launchTable) end(id uint64) {
	delete(t.inflight, id)
	oldest := t.seq + 1
	for i := range t.inflight {
		oldest = min(oldest, i)
	}
	for pid, e := range t.parked {
		if e.seq < oldest {
			delete(t.parked, pid)
		}
	}
	select {
	case t.wakeChan() <- struct{}{}:
	default:
	}
}

// settled reports whether no status is parked or claimed: every exit
// reaped so far has been recorded or is known not to be a launch's.
func (t *launchTable) settled() bool {
	return len(t.parked) == 0 && len(t.claimed) == 0
}

// takeClaimed returns the claimed statuses and empties the queue.
func (t *launchTable) takeClaimed() []reapedExit {
	c := t.claimed
	t.claimed = nil
	return c
}

// wakeChan returns the channel that wakes the reaper, made on first use.
func (t *launchTable) wakeChan() chan struct{} {
	if t.wake == nil {
		t.wake = make(chan struct{}, 1)
	}
	return t.wake
}

// reaped records the exit of pid, one of the supervisor's children: an
// app's main process makes the app exited; a fresh process that exits
// before confirming its resume puts its continuation back to suspended.
// Pids the supervisor did not start (a failed launch's trampoline, an
// orphan reparented to the subreaper) are ignored, once no launch in
// flight may turn out to have started them.
func (s *Supervisor) reaped(pid int, ws unix.WaitStatus) {
	s.mu.Lock()
	p := s.procs[pid]
	if p == nil {
		a := s.mainPIDOwner(pid)
		if a == nil {
			s.launches.park(pid, ws)
		}
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
	if exited { // runs after every resume confirmation: no scan of every held continuation while the main process runs
		for _, h := range s.held {
			if h.app == a {
				held++
				break
			}
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
