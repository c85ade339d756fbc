package supervisor

import (
	"fmt"
	"time"

	"golang.org/x/sys/unix"

	"github.com/migrate-run/migrate/contstore"
)

// StopApp stops app name: SIGTERM to its processes, SIGKILL through its
// cgroup after Config.StopTimeout, its sessions closed, its suspended
// continuations dropped (their descriptors closed), its cgroup removed.
func (s *Supervisor) StopApp(name string) error {
	s.mu.Lock()
	a := s.apps[name]
	s.mu.Unlock()
	if a == nil {
		return fmt.Errorf("stop app %s: %w", name, ErrUnknownApp)
	}
	s.stopApp(a, true)
	return nil
}

// stopApp stops a's processes and releases what the supervisor holds for
// it. With drop, its held continuations are dropped and its fd store too
// (unless it preserves it); without (supervisor shutdown) they stay in the
// store for the next run.
func (s *Supervisor) stopApp(a *App, drop bool) {
	s.mu.Lock()
	if a.stopped {
		s.mu.Unlock()
		<-a.done
		return
	}
	a.stopped = true
	a.run.timers.stopAll()
	a.run.set(StateStopping)
	a.run.ready, a.run.pending = false, false
	s.mu.Unlock()
	s.stopAcceptors(a)
	s.haltProcs(a)
	s.mu.Lock()
	sessions := s.closeSessionsOf(a)
	var held []*heldCont
	for _, h := range s.held {
		if h.app == a {
			held = append(held, h)
		}
	}
	s.mu.Unlock()
	for _, sess := range sessions {
		if sess.state == sessionActive {
			s.markSession(sess, contstore.SessionClosed)
		}
	}
	for _, h := range held {
		if drop {
			_ = s.dropHeld(h, contstore.StateDropped, "app stopped")
		}
	}
	switch {
	case !drop:
		s.releaseFDStore(a, fdStoreShutdown)
	case a.spec.FDStorePreserve:
		s.releaseFDStore(a, fdStoreKeep)
	default:
		s.releaseFDStore(a, fdStoreDrop)
	}
	s.tearDownApp(a)
	s.mu.Lock()
	a.run.set(StateStopped)
	delete(s.apps, a.name)
	select {
	case <-a.done:
	default:
		close(a.done)
	}
	s.mu.Unlock()
	s.log.Info().Str("app", a.name).Msg("app stopped")
}

// haltProcs stops every process of a: the stop signal, then, once the stop
// timeout (which EXTEND_TIMEOUT_USEC= may push) passed, SIGKILL through
// the cgroup; it returns once they are gone or a second timeout passed.
func (s *Supervisor) haltProcs(a *App) {
	timeout := s.stopTimeout(a)
	s.mu.Lock()
	a.run.deadline = time.Now().Add(timeout)
	a.run.extended = make(chan struct{}, 1)
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		a.run.extended = nil
		s.mu.Unlock()
	}()
	s.signalApp(a, s.stopSignal(a))
	if !s.waitProcs(a) {
		s.log.Warn().Str("app", a.name).Dur("timeout", timeout).Msg("app ignored its stop signal, killing it")
		s.killApp(a)
		s.mu.Lock()
		a.run.deadline = time.Now().Add(timeout)
		s.mu.Unlock()
		s.waitProcs(a)
	}
}

// killApp sends SIGKILL to every process of the app: through its cgroup,
// which reaches forks the supervisor never saw, or to its known processes.
func (s *Supervisor) killApp(a *App) {
	if a.group != nil {
		if err := a.group.Kill(); err != nil {
			s.log.Error().Err(err).Str("app", a.name).Msg("cgroup kill failed")
		}
		return
	}
	s.signalApp(a, unix.SIGKILL)
}

// waitProcs waits until the supervisor reaped every process it started for
// a, or a.run.deadline passes; it reports whether they are all gone.
func (s *Supervisor) waitProcs(a *App) bool {
	for {
		s.mu.Lock()
		var p *proc
		for _, q := range s.procs {
			if q.app == a {
				p = q
				break
			}
		}
		left, extended := time.Until(a.run.deadline), a.run.extended
		s.mu.Unlock()
		if p == nil {
			return true
		}
		if left <= 0 {
			return false
		}
		deadline := time.NewTimer(left)
		select {
		case <-p.exited:
		case <-extended: // the deadline moved: look again
		case <-deadline.C:
		}
		deadline.Stop()
	}
}
