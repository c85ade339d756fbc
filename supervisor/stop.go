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
// it. With drop, its held continuations are dropped; without (supervisor
// shutdown) they stay in the store for the next run.
func (s *Supervisor) stopApp(a *App, drop bool) {
	s.mu.Lock()
	if a.stopped {
		s.mu.Unlock()
		<-a.done
		return
	}
	a.stopped = true
	s.mu.Unlock()
	s.signalApp(a, unix.SIGTERM)
	if !s.waitProcs(a, s.cfg.StopTimeout) {
		s.log.Warn().Str("app", a.name).Dur("timeout", s.cfg.StopTimeout).Msg("app ignored SIGTERM, killing it")
		s.killApp(a)
		s.waitProcs(a, s.cfg.StopTimeout)
	}
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
	s.tearDownApp(a)
	s.mu.Lock()
	delete(s.apps, a.name)
	select {
	case <-a.done:
	default:
		close(a.done)
	}
	s.mu.Unlock()
	s.log.Info().Str("app", a.name).Msg("app stopped")
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
// a, or the timeout passes; it reports whether they are all gone.
func (s *Supervisor) waitProcs(a *App, timeout time.Duration) bool {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		var p *proc
		for _, q := range s.procs {
			if q.app == a {
				p = q
				break
			}
		}
		s.mu.Unlock()
		if p == nil {
			return true
		}
		select {
		case <-p.exited:
		case <-deadline.C:
			return false
		}
	}
}
