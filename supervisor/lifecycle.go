package supervisor

import (
	"time"

	"golang.org/x/sys/unix"
)

// sigAbort is what a missed watchdog sends, as systemd's WatchdogSignal=.
const sigAbort = unix.SIGABRT

// The states of an app as a service (AppInfo.State).
const (
	StateInactive   = "inactive"   // configured, never started
	StateStarting   = "starting"   // main process running, not ready yet
	StateRunning    = "running"    // ready (or listening, for an accept service)
	StateReloading  = "reloading"  // sent RELOADING=1, not READY=1 again yet
	StateStopping   = "stopping"   // sent STOPPING=1, or being stopped
	StateRestarting = "restarting" // main process gone, a restart is due at NextStart
	StateExited     = "exited"     // main process exited 0 and is not restarted
	StateFailed     = "failed"     // main process failed and is not restarted (Result says why)
	StateStopped    = "stopped"    // stopped by an operator
)

// The reasons of a failure (AppInfo.Result).
const (
	ResultExitCode   = "exit-code"   // exited non-zero
	ResultSignal     = "signal"      // killed by a signal
	ResultWatchdog   = "watchdog"    // missed its watchdog, then aborted
	ResultTimeout    = "timeout"     // not ready within its start timeout
	ResultStartLimit = "start-limit" // restarted too often: more than burst starts within interval
	ResultSpawn      = "spawn"       // could not be started
)

// runState is the service side of an app: where its main process's life
// stands, and the timers that move it on. Guarded by Supervisor.mu.
type runState struct {
	state, result string
	statusText    string // STATUS=
	errno         int    // ERRNO=
	ready         bool
	// gen counts starts of the main process; a timer of an earlier start
	// finds it changed and does nothing.
	gen      int
	restarts int         // automatic restarts since the last operator start
	failures int         // consecutive failures: the exponent of the delay
	starts   []time.Time // starts within the start limit's interval
	next     time.Time   // when a pending restart happens
	pending  bool        // a start is due or in progress: the app is not done
	halting  bool        // an operator restart stops the processes
	mainPID  int         // MAINPID=, 0 for the process the supervisor started
	timers   runTimers
	// watchdog is the interval WATCHDOG=1 must come within (0: off).
	watchdog time.Duration
	// deadline is when the start (starting) or the stop (halting,
	// stopping) in progress runs out; EXTEND_TIMEOUT_USEC= pushes it.
	deadline time.Time
	extended chan struct{} // poked when deadline moves; nil outside a stop
	changed  chan struct{} // closed at the next change of state; nil until asked for
}

// set moves to state st and wakes whoever waits for a change.
func (r *runState) set(st string) {
	r.state = st
	if r.changed != nil {
		close(r.changed)
		r.changed = nil
	}
}

// beginHalt marks an operator's stop of the main process that a start
// follows (restart, upgrade): its exit then schedules nothing, and the
// app is not done meanwhile. halting is cleared by the caller.
func (r *runState) beginHalt() {
	r.timers.stopAll()
	r.halting, r.pending, r.ready = true, true, false
	r.set(StateStopping)
}

// changes returns a channel closed at the next change of state.
func (r *runState) changes() <-chan struct{} {
	if r.changed == nil {
		r.changed = make(chan struct{})
	}
	return r.changed
}

type runTimers struct{ restart, start, watchdog, kill *time.Timer }

func (t *runTimers) stopAll() {
	for _, tm := range []*time.Timer{t.restart, t.start, t.watchdog, t.kill} {
		if tm != nil {
			tm.Stop()
		}
	}
	*t = runTimers{}
}

// mainPIDLocked is the pid of the app's main process now: MAINPID= if the
// app named one, else the process the supervisor started; 0 for none.
func (a *App) mainPIDLocked() int {
	switch {
	case a.run.mainPID != 0:
		return a.run.mainPID
	case a.main != nil && a.exit == nil:
		return a.main.pid
	}
	return 0
}

// startMain starts the app's main process, first or again: it records the
// start for the start limit, launches, and makes the app ready (readiness
// exec) or arms the start timeout (notify) and the watchdog. A failed
// launch is a failure like an exit: it is restarted per the policy, except
// at the first start, whose error StartApp returns.
func (s *Supervisor) startMain(a *App, first bool) error {
	s.mu.Lock()
	if a.stopped || s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	r := &a.run
	r.timers.stopAll()
	a.main, a.exit = nil, nil
	r.mainPID, r.result, r.ready, r.errno = 0, "", false, 0
	r.set(StateStarting)
	r.next, r.pending = time.Time{}, true
	r.gen++
	gen := r.gen
	r.starts = append(r.starts, time.Now())
	if err := s.renewCaptureLocked(a); err != nil {
		s.log.Error().Err(err).Str("app", a.name).Msg("output capture not renewed, output goes nowhere")
	}
	stored := a.storedFDs()
	spec := s.mainSpec(a, stored)
	s.mu.Unlock()
	p, err := s.launch(a, spec, launchOpts{main: true})
	for _, e := range stored {
		_ = unix.Close(e.FD) // the process has its copies
	}
	exitedMeanwhile := false
	defer func() {
		// The reaper handled the exit while the start was pending, and
		// its checkDone found the app not ended yet: check again.
		if exitedMeanwhile {
			s.checkDone(a)
		}
	}()
	s.mu.Lock()
	defer s.mu.Unlock()
	r.pending = false
	if err != nil {
		r.result = ResultSpawn
		if first {
			r.set(StateFailed)
			return err
		}
		s.log.Error().Err(err).Str("app", a.name).Msg("main process not started")
		s.afterMainLocked(a)
		return err
	}
	if r.gen != gen || a.exit != nil {
		exitedMeanwhile = r.gen == gen
		return nil // it exited already, and its exit was handled
	}
	if a.spec.Watchdog > 0 {
		s.armWatchdogLocked(a, a.spec.Watchdog)
	}
	if a.spec.Readiness == ReadyNotify {
		timeout := a.spec.StartTimeout
		if timeout == 0 {
			timeout = DefaultStartTimeout
		}
		r.deadline = time.Now().Add(timeout)
		r.timers.start = time.AfterFunc(timeout, func() { s.startTimedOut(a, gen) })
		return nil
	}
	s.readyLocked(a)
	s.log.Debug().Str("app", a.name).Int("pid", p.pid).Msg("app ready at exec")
	return nil
}

// readyLocked makes a starting or reloading app ready.
func (s *Supervisor) readyLocked(a *App) {
	r := &a.run
	if r.timers.start != nil {
		r.timers.start.Stop()
		r.timers.start = nil
	}
	r.ready = true
	r.set(StateRunning)
}

// mainExitedLocked handles the exit of the app's main process: unless an
// operator is stopping the app, it is restarted per the policy, or the app
// stays exited or failed. The caller holds s.mu.
func (s *Supervisor) mainExitedLocked(a *App, st ExitStatus) {
	r := &a.run
	r.ready = false
	r.mainPID = 0
	for _, t := range []**time.Timer{&r.timers.start, &r.timers.watchdog, &r.timers.kill} {
		if *t != nil {
			(*t).Stop()
			*t = nil
		}
	}
	if a.stopped || r.halting {
		r.set(r.state) // wakes whoever waits for the main process to end
		return
	}
	if r.result == "" {
		switch {
		case st.Signal != "":
			r.result = ResultSignal
		case st.Code != 0:
			r.result = ResultExitCode
		}
	}
	if interval := a.spec.Restart.Interval; time.Since(a.started) >= max(interval, a.spec.Restart.MaxDelay) {
		r.failures = 0 // it ran long enough to count as healthy
	}
	s.afterMainLocked(a)
}

// afterMainLocked decides what follows the end of a main process whose
// result is set: a restart, or the final exited or failed state.
func (s *Supervisor) afterMainLocked(a *App) {
	r := &a.run
	policy := a.spec.Restart.Policy
	restart := policy == RestartAlways || (policy == RestartOnFailure && r.result != "")
	if !restart {
		r.set(StateExited)
		if r.result != "" {
			r.set(StateFailed)
		}
		s.log.Info().Str("app", a.name).Str("state", r.state).Str("result", r.result).Msg("app ended, not restarting")
		return
	}
	now := time.Now()
	if s.startLimitHit(a, now) {
		r.set(StateFailed)
		r.result = ResultStartLimit
		s.log.Error().Str("app", a.name).Int("burst", a.spec.Restart.Burst).Dur("interval", a.spec.Restart.Interval).
			Msg("start limit hit, not restarting")
		return
	}
	delay := restartDelay(a.spec.Restart, r.failures)
	if r.result != "" {
		r.failures++
	}
	r.set(StateRestarting)
	r.next, r.pending = now.Add(delay), true
	gen := r.gen
	r.timers.restart = time.AfterFunc(delay, func() { s.restartNow(a, gen) })
	s.log.Info().Str("app", a.name).Str("result", r.result).Dur("delay", delay).Msg("restart scheduled")
}

// startLimitHit reports whether another start would exceed the start
// limit: Burst starts within Interval are allowed.
func (s *Supervisor) startLimitHit(a *App, now time.Time) bool {
	rp := a.spec.Restart
	if rp.Interval <= 0 || rp.Burst <= 0 {
		return false
	}
	r := &a.run
	kept := r.starts[:0]
	for _, t := range r.starts {
		if now.Sub(t) < rp.Interval {
			kept = append(kept, t)
		}
	}
	r.starts = kept
	return len(kept) >= rp.Burst
}

// restartDelay is the delay of a restart after failures consecutive
// failures: Delay doubled for each, capped at MaxDelay.
func restartDelay(rp RestartPolicy, failures int) time.Duration {
	d := rp.Delay
	for range failures {
		if d >= rp.MaxDelay/2 {
			return max(rp.MaxDelay, rp.Delay)
		}
		d *= 2
	}
	return d
}

func (s *Supervisor) restartNow(a *App, gen int) {
	s.mu.Lock()
	r := &a.run
	if a.stopped || r.halting || r.gen != gen || r.state != StateRestarting {
		s.mu.Unlock()
		return
	}
	r.restarts++
	restarts := r.restarts // the next restart may count before this one logs
	s.mu.Unlock()
	if err := s.startMain(a, false); err == nil {
		s.log.Info().Str("app", a.name).Int("restarts", restarts).Msg("app restarted")
	}
	s.checkDone(a)
}

// startTimedOut fails a start whose READY=1 did not come in time: the main
// process is stopped, and its exit is a failure with result timeout.
func (s *Supervisor) startTimedOut(a *App, gen int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := &a.run
	if r.gen != gen || r.state != StateStarting || a.stopped {
		return
	}
	if left := time.Until(r.deadline); left > 0 { // EXTEND_TIMEOUT_USEC=
		r.timers.start = time.AfterFunc(left, func() { s.startTimedOut(a, gen) })
		return
	}
	r.result = ResultTimeout
	s.log.Error().Str("app", a.name).Msg("not ready in time, stopping it")
	s.killMainLocked(a, s.stopSignal(a))
}

// armWatchdogLocked (re)starts the watchdog timer of the current start.
func (s *Supervisor) armWatchdogLocked(a *App, every time.Duration) {
	r := &a.run
	if r.timers.watchdog != nil {
		r.timers.watchdog.Stop()
		r.timers.watchdog = nil
	}
	r.watchdog = every
	if every <= 0 {
		return
	}
	gen := r.gen
	r.timers.watchdog = time.AfterFunc(every, func() { s.watchdogMissed(a, gen) })
}

// watchdogMissed aborts a main process that did not send WATCHDOG=1 in
// time (SIGABRT, as systemd's WatchdogSignal=); its exit is a failure with
// result watchdog.
func (s *Supervisor) watchdogMissed(a *App, gen int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := &a.run
	if r.gen != gen || a.stopped || r.halting || a.exit != nil {
		return
	}
	r.result = ResultWatchdog
	s.log.Error().Str("app", a.name).Dur("watchdog", r.watchdog).Msg("watchdog missed, aborting the main process")
	s.killMainLocked(a, sigAbort)
}

// killMainLocked sends sig to the main process and SIGKILL after the stop
// timeout if it still runs; the app is stopping (and not ready) meanwhile.
func (s *Supervisor) killMainLocked(a *App, sig unix.Signal) {
	pid, gen := a.mainPIDLocked(), a.run.gen
	if pid == 0 {
		return
	}
	a.run.ready = false
	a.run.set(StateStopping)
	_ = signalPid(pid, sig)
	a.run.timers.kill = time.AfterFunc(s.stopTimeout(a), func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if a.run.gen == gen && a.exit == nil && a.mainPIDLocked() == pid {
			s.log.Warn().Str("app", a.name).Int("pid", pid).Msg("main process ignored its signal, killing it")
			_ = signalPid(pid, unix.SIGKILL)
		}
	})
}

func (s *Supervisor) stopSignal(a *App) unix.Signal {
	if a.spec.StopSignal != 0 {
		return a.spec.StopSignal
	}
	return unix.SIGTERM
}

func (s *Supervisor) stopTimeout(a *App) time.Duration {
	if a.spec.StopTimeout > 0 {
		return a.spec.StopTimeout
	}
	return s.cfg.StopTimeout
}
