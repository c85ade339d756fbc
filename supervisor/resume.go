package supervisor

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"golang.org/x/sys/unix"

	"github.com/migrate-run/migrate/contstore"
	"github.com/migrate-run/migrate/launcher"
)

// ResumeResult says how a continuation was resumed.
type ResumeResult struct {
	// PID is the fresh process of a complete continuation; 0 for an
	// internal or system one, resumed in a running process.
	PID int
	// Stages are how long the resume's steps took in the supervisor
	// (StageLaunch, StageNotified and the steps inside it), as the admin
	// reply carries them
	// (AdminClient.Resume); Supervisor.Resume leaves it nil.
	Stages StageTimes
}

// Resume invokes continuation id and waits until it is resumed: a complete
// continuation in a fresh process that confirms with Resumed, an internal or
// system one in the app's attached process that answers Ack. If the fresh
// process exits first, or the attached process refuses, the continuation is
// suspended again (ErrNoProcess, ErrRefused) and may be resumed later. If
// ctx ends first, Resume returns its error and the resume goes on.
func (s *Supervisor) Resume(ctx context.Context, id contstore.ID) (ResumeResult, error) {
	return s.resume(ctx, nil, id)
}

func (s *Supervisor) resume(ctx context.Context, c *conn, id contstore.ID) (ResumeResult, error) {
	return s.resumeExec(ctx, c, id, "")
}

// resumeExec is resume with the program of a complete continuation's fresh
// process replaced by exec0 (unless "").
func (s *Supervisor) resumeExec(ctx context.Context, c *conn, id contstore.ID, exec0 string) (ResumeResult, error) {
	h, done, err := s.startResume(c, id)
	if err != nil {
		return ResumeResult{}, err
	}
	s.mu.Lock()
	h.exec0 = exec0
	m, k := h.marking, h.clock
	k.stages = stagesOf(ctx)
	s.mu.Unlock()
	if h.rec.Kind != contstore.KindComplete {
		if err := s.markResuming(h, m); err != nil {
			s.mu.Lock()
			h.state = contstore.StateSuspended
			h.finishResume(err)
			s.mu.Unlock()
			return ResumeResult{}, err
		}
		return ResumeResult{}, s.attachResume(ctx, h)
	}
	// The store records the resume while the fresh process starts: its
	// fsync and the launch overlap. The process cannot confirm before the
	// record is committed (resumed waits for it), and a failed commit
	// kills it: the store still says suspended.
	go s.markResuming(h, m)
	p, err := s.launchResume(h, k)
	if err != nil {
		s.unresume(h, err)
		return ResumeResult{}, err
	}
	if err := m.wait(); err != nil {
		// Its Resumed fails; its exit suspends the continuation again
		// (resumerExited), and the commit's error is the resume's.
		s.log.Error().Err(err).Stringer("cont", id).Int("pid", p.pid).Msg("resume not recorded, killing the fresh process")
		_ = p.lp.Signal(unix.SIGKILL)
		select {
		case <-done:
		case <-ctx.Done():
		}
		return ResumeResult{PID: p.pid}, err
	}
	select {
	case err := <-done:
		return ResumeResult{PID: p.pid}, err
	case <-ctx.Done():
		return ResumeResult{PID: p.pid}, ctx.Err()
	}
}

// startResume moves a held, suspended continuation to resuming in memory
// and returns the channel that tells how the resume ends.
func (s *Supervisor) startResume(c *conn, id contstore.ID) (*heldCont, chan error, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.held[id]
	switch {
	case s.closed:
		return nil, nil, fmt.Errorf("resume continuation %v: %w", id, ErrClosed)
	case h == nil:
		return nil, nil, s.notHeld(id)
	case c != nil && !c.admin && h.app != c.app:
		return nil, nil, c.denied(fmt.Sprintf("resume continuation %v", id), h.app.name)
	case h.app.orphan:
		return nil, nil, fmt.Errorf("resume continuation %v: app %s is not running: %w", id, h.app.name, ErrUnknownApp)
	case h.state != contstore.StateSuspended:
		return nil, nil, fmt.Errorf("resume continuation %v in state %s: %w", id, h.state, ErrBusy)
	case !h.rec.Expires.IsZero() && time.Now().After(h.rec.Expires):
		return nil, nil, fmt.Errorf("resume continuation %v: %w", id, ErrExpired)
	}
	h.state, h.marking = contstore.StateResuming, &resumeMark{done: make(chan struct{})}
	h.clock = &resumeClock{}
	done := make(chan error, 1)
	h.waiters = append(h.waiters, done)
	return h, done, nil
}

// notHeld explains why id is not in the holder table: unknown, or stored in
// a state that cannot be resumed.
func (s *Supervisor) notHeld(id contstore.ID) error {
	rec, err := s.store.Get(id)
	if err != nil {
		return fmt.Errorf("resume continuation %v: %w", id, ErrUnknownCont)
	}
	if rec.State == contstore.StateExpired {
		return fmt.Errorf("resume continuation %v: %w", id, ErrExpired)
	}
	return fmt.Errorf("resume continuation %v in state %s: %w", id, rec.State, ErrBadState)
}

// resumeMark is the commit of a resume's suspended → resuming.
type resumeMark struct {
	done chan struct{} // closed once the commit ended
	err  error         // why it failed, nil once committed; read after done
}

// wait returns once the commit has ended, with its error.
func (m *resumeMark) wait() error {
	<-m.done
	return m.err
}

// markResuming records in the store that h's resume is in progress, and
// ends m, the resume's mark (h.marking), with the outcome.
func (s *Supervisor) markResuming(h *heldCont, m *resumeMark) error {
	if err := s.store.Transition(h.rec.ID, contstore.StateSuspended, contstore.StateResuming); err != nil {
		m.err = fmt.Errorf("resume continuation %v: %w", h.rec.ID, err)
	}
	close(m.done)
	return m.err
}

// unresume puts a continuation whose resume failed back to suspended,
// holding its descriptors as before, and tells the waiters why. The store
// is set back to suspended once the resume's own record of resuming is
// committed; one that failed left it suspended.
func (s *Supervisor) unresume(h *heldCont, cause error) {
	s.mu.Lock()
	m := h.marking
	s.mu.Unlock()
	if m == nil || m.wait() == nil {
		if err := s.store.Transition(h.rec.ID, contstore.StateResuming, contstore.StateSuspended); err != nil {
			s.log.Error().Err(err).Stringer("cont", h.rec.ID).Msg("continuation state not restored")
		}
	}
	s.mu.Lock()
	h.state = contstore.StateSuspended
	h.finishResume(cause)
	s.mu.Unlock()
	s.log.Warn().Err(cause).Stringer("cont", h.rec.ID).Msg("resume failed, continuation suspended again")
}

// launchResume starts the fresh process of a complete continuation: every
// slot back at its number by dup from the held descriptors, the app's stdio
// on 0, 1 and 2 where no slot is, the exec description, MIGRATE_* in its
// environment, the app's cgroup. k times the resume.
func (s *Supervisor) launchResume(h *heldCont, k *resumeClock) (*proc, error) {
	spec := s.resumeSpec(h)
	start := time.Now()
	p, err := s.launch(h.app, spec, launchOpts{cont: h.rec.ID})
	if err != nil {
		return nil, fmt.Errorf("resume continuation %v: %w", h.rec.ID, err)
	}
	s.stage(k.stages, stageLaunch, p.started.Sub(start))
	s.mu.Lock()
	s.launchDone(k, p.started)
	s.mu.Unlock()
	time.AfterFunc(s.cfg.ResumeTimeout, func() { s.resumeOverdue(h, p) })
	s.log.Info().Str("app", h.app.name).Stringer("cont", h.rec.ID).Int("pid", p.pid).
		Int("old_pid", h.rec.OldPID).Msg("fresh process started")
	return p, nil
}

func (s *Supervisor) resumeSpec(h *heldCont) launcher.Spec {
	rec := h.rec
	taken := map[int]bool{}
	var files []launcher.FD
	contFD := -1
	for _, sl := range rec.Slots {
		taken[sl.Number] = true
		if sl.Held >= 0 {
			files = append(files, launcher.FD{Target: sl.Number, FD: h.fds[sl.Held]})
		}
		if sl.Role == roleSession || contFD < 0 && sl.Role == "conn" {
			contFD = sl.Number
		}
	}
	files = append(files, stdioFiles(h.app, taken)...)
	env := append(s.appEnv(h.app), "MIGRATE_PID="+strconv.Itoa(rec.OldPID), "MIGRATE_CONT_ID="+rec.ID.String())
	if contFD >= 0 {
		env = append(env, "MIGRATE_CONT="+strconv.Itoa(contFD))
	}
	proc := *rec.Exec
	if h.exec0 != "" {
		proc.Args = append([]string{h.exec0}, proc.Args[1:]...)
	}
	return launcher.Spec{Process: &proc, Files: files, ExtraEnv: env, SigMask: launcher.SigSet(rec.SigMask),
		Setpgid: true, Cgroups: h.app.cgroups()}
}

// resumed handles Resumed from a fresh process: the continuation is
// resumed, its held descriptors are closed, its session is live again. The
// store records both in one commit, after the resume's record of resuming.
func (s *Supervisor) resumed(c *conn, id contstore.ID) error {
	s.mu.Lock()
	h := s.held[id]
	var m *resumeMark
	var k *resumeClock
	var err error
	switch {
	case h == nil:
		err = s.unheldErr(id)
	case h.app != c.app:
		err = c.denied(fmt.Sprintf("confirm continuation %v", id), h.app.name)
	case h.state != contstore.StateResuming || h.rec.Kind != contstore.KindComplete:
		// The fresh process may confirm before launcher.Start has even
		// returned to the supervisor, so resumer may still be unset.
		err = fmt.Errorf("confirm continuation %v in state %s: %w", id, h.state, ErrBadState)
	default:
		m, k = h.marking, h.clock
	}
	s.mu.Unlock()
	if err != nil {
		return err
	}
	if err := m.wait(); err != nil {
		return fmt.Errorf("confirm continuation %v: %w", id, err)
	}
	if err := s.store.TransitionMarking(id, contstore.StateResuming, contstore.StateResumed, contstore.SessionActive); err != nil {
		return fmt.Errorf("confirm continuation %v: %w", id, err)
	}
	committed := time.Now()
	s.mu.Lock()
	s.confirmDone(k, c.firstAt, c.recvAt, committed)
	s.finishHeld(h, c)
	h.finishResume(nil)
	s.mu.Unlock()
	c.log.Info().Stringer("cont", id).Msg("continuation resumed")
	return nil
}

// unheldErr is the error for a continuation id the holder table lacks. The
// caller holds s.mu, so the store is not consulted.
func (s *Supervisor) unheldErr(id contstore.ID) error {
	return fmt.Errorf("find held continuation %v: %w", id, ErrUnknownCont)
}

// finishHeld ends a resumed continuation's hold: its descriptors are
// closed and its session is live again, served by c unless the fresh
// process re-registered it already. The caller holds s.mu.
func (s *Supervisor) finishHeld(h *heldCont, c *conn) {
	s.release(h)
	if sess := h.sess; sess != nil && sess.cont == h.rec.ID {
		sess.state, sess.cont = sessionActive, 0
		if sess.conn == nil {
			sess.conn, sess.pid = c, int(c.cred.Pid)
		}
		s.sessions[sess.id] = sess
	}
}

// resumeOverdue kills a fresh process that has not confirmed in time; its
// exit puts the continuation back to suspended (resumerExited).
func (s *Supervisor) resumeOverdue(h *heldCont, p *proc) {
	s.mu.Lock()
	overdue := h.state == contstore.StateResuming && h.resumer == p
	s.mu.Unlock()
	if overdue {
		s.log.Warn().Stringer("cont", h.rec.ID).Int("pid", p.pid).Dur("timeout", s.cfg.ResumeTimeout).
			Msg("fresh process did not confirm, killing it")
		_ = p.lp.Signal(unix.SIGKILL)
	}
}

// resumerExited handles the exit of a fresh process: if it had not
// confirmed, its continuation is suspended again.
func (s *Supervisor) resumerExited(p *proc) {
	s.mu.Lock()
	h := s.held[p.cont]
	pending := h != nil && h.state == contstore.StateResuming && h.resumer == p
	s.mu.Unlock()
	if pending {
		s.unresume(h, fmt.Errorf("fresh process %d exited (%d) before it confirmed: %w", p.pid, p.status.Code, ErrNoProcess))
	}
}
