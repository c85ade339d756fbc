package supervisor

import (
	"fmt"
	"hash/fnv"
	"path/filepath"
	"time"
)

// notifyPath is where app name's NOTIFY_SOCKET lives: beside the control
// socket, in notify/; a name too long for a socket address is hashed.
func (s *Supervisor) notifyPath(name string) string {
	p := filepath.Join(filepath.Dir(s.cfg.Socket), "notify", name+".sock")
	if len(p) <= 107 {
		return p
	}
	h := fnv.New64a()
	h.Write([]byte(name))
	return filepath.Join(filepath.Dir(s.cfg.Socket), "notify", fmt.Sprintf("%016x.sock", h.Sum64()))
}

// openNotify opens the app's NOTIFY_SOCKET and serves it until the app is
// torn down.
func (s *Supervisor) openNotify(a *App) error {
	n, err := listenNotify(s.notifyPath(a.name))
	if err != nil {
		return fmt.Errorf("open notify socket: %w", err)
	}
	a.notify = n
	s.wg.Go(func() {
		n.serve(func(m notifyMsg) { s.handleNotify(a, m) }, func(err error) {
			s.log.Warn().Err(err).Str("app", a.name).Msg("notify message dropped")
		})
	})
	return nil
}

// handleNotify applies one sd_notify message of app a. The sender must be
// a process of a (its kernel credentials say which process it is; what
// it claims plays no part); MAINPID= must name one too. Descriptors that
// came with the message are kept by FDSTORE=1 and closed otherwise (which
// is how BARRIER=1 is answered: the messages before it are applied).
func (s *Supervisor) handleNotify(a *App, m notifyMsg) {
	kept := false
	defer func() {
		if !kept {
			closeFDs(m.FDs)
		}
	}()
	if m.PID <= 0 || s.appOf(m.PID) != a {
		s.log.Warn().Str("app", a.name).Int("pid", m.PID).Msg("notify message from a process outside the service dropped")
		return
	}
	if len(m.Unknown) > 0 {
		s.log.Debug().Str("app", a.name).Strs("keys", m.Unknown).Msg("notify keys ignored")
	}
	if m.MainPID > 0 && s.appOf(m.MainPID) != a {
		s.log.Warn().Str("app", a.name).Int("mainpid", m.MainPID).Msg("MAINPID names a process outside the service, ignored")
		m.MainPID = 0
	}
	s.applyNotify(a, m)
	if m.FDStoreRemove {
		s.fdStoreRemove(a, m.FDName)
	}
	if m.FDStore {
		kept = true
		s.fdStoreAdd(a, m)
	}
}

// applyNotify applies the state keys of a message from a process of a.
func (s *Supervisor) applyNotify(a *App, m notifyMsg) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := &a.run
	if m.Status != nil {
		r.statusText = *m.Status
	}
	if m.Errno != nil {
		r.errno = *m.Errno
	}
	if m.MainPID > 0 && a.exit == nil {
		r.mainPID = m.MainPID
		s.log.Info().Str("app", a.name).Int("pid", m.MainPID).Msg("main process changed by MAINPID")
	}
	if a.stopped || r.halting || a.exit != nil {
		return // the keys below are about a running main process
	}
	switch {
	case m.Stopping:
		r.set(StateStopping)
		r.ready = false
	case m.Reloading:
		r.set(StateReloading)
	case m.Ready && (r.state == StateStarting || r.state == StateReloading):
		s.readyLocked(a)
		s.log.Info().Str("app", a.name).Msg("app ready")
	}
	if m.WatchdogUSec != nil {
		s.armWatchdogLocked(a, time.Duration(*m.WatchdogUSec)*time.Microsecond)
	} else if m.Watchdog && r.timers.watchdog != nil {
		r.timers.watchdog.Reset(r.watchdog)
	}
	if m.WatchdogTrigger {
		r.result = ResultWatchdog
		s.log.Error().Str("app", a.name).Msg("watchdog triggered by the app, aborting the main process")
		s.killMainLocked(a, sigAbort)
	}
	if m.ExtendTimeoutUSec != nil {
		s.extendLocked(a, time.Duration(*m.ExtendTimeoutUSec)*time.Microsecond)
	}
}

// extendLocked pushes the deadline of a start or stop in progress to at
// least d from now (EXTEND_TIMEOUT_USEC=).
func (s *Supervisor) extendLocked(a *App, d time.Duration) {
	r := &a.run
	if r.state != StateStarting && r.extended == nil {
		return
	}
	if at := time.Now().Add(d); at.After(r.deadline) {
		r.deadline = at
		if r.extended != nil {
			select {
			case r.extended <- struct{}{}:
			default:
			}
		}
	}
}
