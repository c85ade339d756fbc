package supervisor

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/migrate-run/migrate/contstore"
	"github.com/migrate-run/migrate/proto"
)

// UpgradeReport says what an upgrade did.
type UpgradeReport struct {
	App string `json:"app"`
	// Exec is the new program, Previous the one it replaced.
	Exec     string `json:"exec"`
	Previous string `json:"previous"`
	// Version is the version whose compat vector the continuations were
	// checked against; "" when none was known (not checked).
	Version string `json:"version,omitempty"`
	// OldPID and NewPID are the main process's before and after (0: the
	// app has none).
	OldPID int `json:"oldPid,omitempty"`
	NewPID int `json:"newPid,omitempty"`
	// Sessions are the sessions that were live, each resumed under the new
	// program, or the old one (FellBack), or left suspended (Error).
	Sessions []UpgradedSession `json:"sessions"`
	Upgraded int               `json:"upgraded"`
	FellBack int               `json:"fellBack"`
	Failed   int               `json:"failed"`
	Took     time.Duration     `json:"tookNs"`
}

// UpgradedSession is one session of an upgrade.
type UpgradedSession struct {
	Session contstore.SessionID `json:"session"`
	Cont    contstore.ID        `json:"cont"`
	Kind    contstore.Kind      `json:"kind"`
	PID     int                 `json:"pid,omitempty"` // the fresh process; 0 for an internal resume
	// Binary is "new" or "old"; "" when the session is still suspended.
	Binary string `json:"binary,omitempty"`
	Error  string `json:"error,omitempty"`
}

// CompatMismatchError aborts an upgrade: a continuation needs a compat tag
// the new version does not provide with the same value.
type CompatMismatchError struct {
	Cont    contstore.ID
	Tag     contstore.Tag
	Version string
	Has     *contstore.Tag // the new version's tag of that id; nil: none
}

func (e *CompatMismatchError) Error() string {
	has := "does not have it"
	if e.Has != nil {
		has = fmt.Sprintf("has %q", e.Has.Value)
	}
	return fmt.Sprintf("compat tag %d (%s) is %q in continuation %v, version %s %s", e.Tag.ID, e.Tag.Name, e.Tag.Value,
		e.Cont, e.Version, has)
}

func (e *CompatMismatchError) Unwrap() error { return ErrRefused }

// Upgrade replaces app name's program by exec under its live sessions:
// every live session is suspended (reason upgrade), the main process is
// started again from exec (the listening sockets are held throughout, so
// new connections wait rather than being refused), the continuations are
// checked against the compat vector of the new version (version, or the
// one the new main process registers), and each is resumed: a complete
// one in a fresh process of exec, an internal one in the new main
// process's attach handler. A complete continuation whose fresh process
// fails under exec is resumed under its old program instead, and
// reported. A compat mismatch, or a new main process that ends or is not
// ready when started, puts everything back as it was (the old program,
// every session resumed under it) and returns an error: a
// *CompatMismatchError naming the tag for a mismatch.
func (s *Supervisor) Upgrade(ctx context.Context, name, exec, version string) (UpgradeReport, error) {
	begin := time.Now()
	rep := UpgradeReport{App: name, Exec: exec, Sessions: []UpgradedSession{}}
	if err := checkProgram(exec); err != nil {
		return rep, fmt.Errorf("upgrade %s: %w", name, err)
	}
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	s.mu.Lock()
	a := s.apps[name]
	s.mu.Unlock()
	if a == nil {
		return rep, fmt.Errorf("upgrade %s: %w", name, ErrUnknownApp)
	}
	rep.Previous = a.spec.Args[0]
	s.mu.Lock()
	// An app whose old main process registered a compat vector has its new
	// one register the new version's; an app without a main process (an
	// accept service) runs nothing of the new program before the resumes.
	speaksCompat := a.compat != "" && a.main != nil && !a.spec.accepts()
	s.mu.Unlock()
	seen := map[contstore.SessionID]bool{}
	conts := s.suspendAll(ctx, a, seen, &rep)
	since := time.Now()
	if err := s.swapProgram(a, exec, &rep); err != nil {
		s.resumeAll(ctx, a, conts, "", &rep)
		return rep, fmt.Errorf("upgrade %s: %w", name, err)
	}
	// Sessions the old main process accepted while the first ones were
	// being suspended run the old program too.
	conts = append(conts, s.suspendAll(ctx, a, seen, &rep)...)
	rep.Version = s.newVersion(ctx, a, version, since, speaksCompat)
	err := s.mainFailed(a)
	if err == nil {
		err = s.checkCompat(a, conts, rep.Version)
	}
	if err != nil {
		s.log.Error().Err(err).Str("app", name).Msg("upgrade aborted, going back to the old program")
		rep.Sessions = rep.Sessions[:0]
		if serr := s.swapProgram(a, rep.Previous, &rep); serr != nil {
			err = errors.Join(err, serr)
		}
		s.resumeAll(ctx, a, conts, "", &rep)
		return rep, fmt.Errorf("aborted, everything is back under %s: %w", rep.Previous, err)
	}
	s.resumeAll(ctx, a, conts, exec, &rep)
	rep.Took = time.Since(begin)
	s.log.Info().Str("app", name).Str("exec", exec).Int("upgraded", rep.Upgraded).Int("fell_back", rep.FellBack).
		Int("failed", rep.Failed).Dur("took", rep.Took).Msg("app upgraded")
	return rep, nil
}

// mainFailed reports a main process of the new program that did not get
// to run (or be ready).
func (s *Supervisor) mainFailed(a *App) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a.spec.accepts() {
		return nil
	}
	switch r := &a.run; {
	case a.exit != nil:
		return fmt.Errorf("the new program's main process ended: exit %d %s: %w", a.exit.Code, a.exit.Signal, ErrNoProcess)
	case r.state != StateRunning:
		return fmt.Errorf("the new program's main process is %s, not running: %w", r.state, ErrNoProcess)
	}
	return nil
}

// checkProgram checks that exec is an absolute path to an executable file.
func checkProgram(exec string) error {
	if !filepath.IsAbs(exec) {
		return fmt.Errorf("program %q is not an absolute path: %w", exec, ErrBadRequest)
	}
	fi, err := os.Stat(exec)
	if err != nil {
		return fmt.Errorf("program %s: %w", exec, err)
	}
	if !fi.Mode().IsRegular() || unix.Access(exec, unix.X_OK) != nil {
		return fmt.Errorf("program %s is not an executable file: %w", exec, ErrBadRequest)
	}
	return nil
}

// suspendAll suspends every live session of a whose process is there to
// ask, skipping those in skip, and returns the continuations, sorted. A
// session that cannot be suspended (its process died meanwhile, it was
// closing) stays as it is and is reported, not upgraded.
func (s *Supervisor) suspendAll(ctx context.Context, a *App, skip map[contstore.SessionID]bool, rep *UpgradeReport) []contstore.ID {
	s.mu.Lock()
	var ids []contstore.SessionID
	for id, sess := range s.sessions {
		// Dependents are suspended with what they depend on; an orphaned
		// session has no process to hand it over.
		if sess.app == a && sess.state == sessionActive && len(sess.deps) == 0 && sess.conn != nil && !skip[id] {
			ids = append(ids, id)
		}
	}
	s.mu.Unlock()
	var (
		mu    sync.Mutex
		conts []contstore.ID
		wg    sync.WaitGroup
	)
	for _, id := range ids {
		wg.Go(func() {
			got, err := s.Suspend(ctx, id, proto.ReasonUpgrade)
			mu.Lock()
			defer mu.Unlock()
			conts = append(conts, got...)
			skip[id] = true
			if err != nil {
				s.log.Warn().Err(err).Str("app", a.name).Stringer("session", id).Msg("session not suspended, not upgraded")
				rep.Sessions = append(rep.Sessions, UpgradedSession{Session: id, Error: "not suspended: " + err.Error()})
				rep.Failed++
			}
		})
	}
	wg.Wait()
	sort.Slice(conts, func(i, j int) bool { return conts[i] < conts[j] })
	return conts
}

// swapProgram makes exec a's program: the main process (if a has one) is
// stopped alone, with its stop signal, and started again from exec; the
// app's other processes and sockets stay. An accept service's next
// connections run exec.
func (s *Supervisor) swapProgram(a *App, exec string, rep *UpgradeReport) error {
	s.mu.Lock()
	a.spec.Args = append([]string{exec}, a.spec.Args[1:]...)
	if a.spec.accepts() || a.main == nil {
		s.mu.Unlock()
		return nil
	}
	r := &a.run
	r.beginHalt()
	pid := a.mainPIDLocked()
	rep.OldPID = pid
	s.mu.Unlock()
	if pid != 0 {
		s.stopMain(a, pid)
	}
	s.mu.Lock()
	r.halting = false
	s.mu.Unlock()
	if err := s.startMain(a, false); err != nil {
		return fmt.Errorf("start %s: %w", exec, err)
	}
	s.mu.Lock()
	rep.NewPID = a.mainPIDLocked()
	s.mu.Unlock()
	s.waitStarted(a, a.spec.StartTimeout)
	return nil
}

// stopMain stops a's main process pid alone: the stop signal, SIGKILL
// after the stop timeout; it returns once the process ended (its exit,
// with halting set, changes nothing else).
func (s *Supervisor) stopMain(a *App, pid int) {
	_ = signalPid(pid, s.stopSignal(a))
	timer := time.NewTimer(s.stopTimeout(a))
	defer timer.Stop()
	for {
		s.mu.Lock()
		gone, changed := a.mainPIDLocked() == 0, a.run.changes()
		s.mu.Unlock()
		if gone {
			return
		}
		select {
		case <-changed:
		case <-timer.C:
			s.log.Warn().Str("app", a.name).Int("pid", pid).Msg("main process ignored its stop signal, killing it")
			_ = signalPid(pid, unix.SIGKILL)
			timer.Reset(s.stopTimeout(a))
		}
	}
}

// newVersion is the version to check against: the one asked for, or the
// one the app registered a compat vector for since the new program
// started; "" for none. An app whose old program registered one (wait)
// is given the resume timeout to register the new one.
func (s *Supervisor) newVersion(ctx context.Context, a *App, asked string, since time.Time, wait bool) string {
	if asked != "" {
		return asked
	}
	deadline := time.NewTimer(s.cfg.ResumeTimeout)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		if a.compat != "" && !a.compatAt.Before(since) {
			defer s.mu.Unlock()
			return a.compat
		}
		if a.compatWake == nil {
			a.compatWake = make(chan struct{})
		}
		wake := a.compatWake
		s.mu.Unlock()
		if !wait {
			return ""
		}
		select {
		case <-wake:
		case <-deadline.C:
			s.log.Warn().Str("app", a.name).Msg("the new program registered no compat vector, not checked")
			return ""
		case <-ctx.Done():
			return ""
		}
	}
}

// checkCompat checks every continuation's compat tags against version's
// vector: each tag must be there with the same value.
func (s *Supervisor) checkCompat(a *App, conts []contstore.ID, version string) error {
	if version == "" {
		return nil
	}
	have, err := s.store.GetCompat(compatKey(a.name, version))
	if err != nil {
		return fmt.Errorf("compat vector of version %s: %w", version, ErrUnknownKey)
	}
	byID := map[uint32]contstore.Tag{}
	for _, t := range have {
		byID[t.ID] = t
	}
	for _, id := range conts {
		s.mu.Lock()
		h := s.held[id]
		var tags []contstore.Tag
		if h != nil {
			tags = h.rec.Compat
		}
		s.mu.Unlock()
		for _, t := range tags {
			got, ok := byID[t.ID]
			if !ok || got.Value != t.Value {
				e := &CompatMismatchError{Cont: id, Tag: t, Version: version}
				if ok {
					e.Has = &got
				}
				return e
			}
		}
	}
	return nil
}

// resumeAll resumes conts, complete ones under exec ("" their own
// program), falling back to their own program when exec fails; internal
// ones in the app's attach handler once the (new) main process attached.
func (s *Supervisor) resumeAll(ctx context.Context, a *App, conts []contstore.ID, exec string, rep *UpgradeReport) {
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, id := range conts {
		wg.Go(func() {
			u := s.resumeOneForUpgrade(ctx, a, id, exec)
			mu.Lock()
			defer mu.Unlock()
			rep.Sessions = append(rep.Sessions, u)
			switch {
			case u.Error != "":
				rep.Failed++
			case u.Binary == "new":
				rep.Upgraded++
			default:
				rep.FellBack++
			}
		})
	}
	wg.Wait()
	sort.Slice(rep.Sessions, func(i, j int) bool { return rep.Sessions[i].Cont < rep.Sessions[j].Cont })
}

func (s *Supervisor) resumeOneForUpgrade(ctx context.Context, a *App, id contstore.ID, exec string) UpgradedSession {
	s.mu.Lock()
	h := s.held[id]
	u := UpgradedSession{Cont: id}
	if h != nil {
		u.Session, u.Kind = h.rec.Session, h.rec.Kind
	}
	s.mu.Unlock()
	if h == nil {
		u.Error = "no longer held"
		return u
	}
	if u.Kind != contstore.KindComplete {
		s.waitAttach(ctx, a)
	}
	binary := "new"
	if exec == "" {
		binary = "old"
	}
	res, err := s.resumeExec(ctx, nil, id, exec)
	if err != nil && exec != "" && u.Kind == contstore.KindComplete {
		s.log.Warn().Err(err).Stringer("cont", id).Str("exec", exec).Msg("resume under the new program failed, resuming under the old one")
		binary = "old"
		res, err = s.resumeExec(ctx, nil, id, "")
	}
	if err != nil {
		u.Error = err.Error()
		return u
	}
	u.PID, u.Binary = res.PID, binary
	return u
}

// waitAttach waits until a process of a that started after the upgrade
// began registered an attach handler, at most the resume timeout.
func (s *Supervisor) waitAttach(ctx context.Context, a *App) {
	deadline := time.NewTimer(s.cfg.ResumeTimeout)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		mainPID := a.mainPIDLocked()
		ok := false
		if n := len(a.attach); n > 0 && mainPID != 0 {
			ok = int(a.attach[n-1].cred.Pid) == mainPID
		}
		if a.attachWake == nil {
			a.attachWake = make(chan struct{})
		}
		wake := a.attachWake
		s.mu.Unlock()
		if ok || mainPID == 0 {
			return
		}
		select {
		case <-wake:
		case <-deadline.C:
			return
		case <-ctx.Done():
			return
		}
	}
}
