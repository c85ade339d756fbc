//go:build linux

package supervisor

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/migrate-run/migrate/contstore"
	"github.com/migrate-run/migrate/fdpass"
)

// recoverWriters is how many recovered continuations recover reopens or
// marks lost at once.
const recoverWriters = 64

// Meta keys the supervisor keeps in the store.
const (
	metaBootID = "boot-id"
	metaRunID  = "run-id"
)

// recover reconciles the store with a fresh run. Held descriptors die with
// the process that held them, so every continuation a previous run left in
// suspending, suspended or resuming is lost, except one whose slots are all
// regular files or directories that can be opened again by path, with the
// same flags and at the same offset: those are reopened, held and kept
// suspended. Sessions left active have no process any more and are
// closed. Nothing else changes.
func (s *Supervisor) recover() error {
	boot, _ := os.ReadFile("/proc/sys/kernel/random/boot_id")
	bootID := strings.TrimSpace(string(boot))
	prevBoot, _ := s.store.GetMeta(metaBootID)
	prevRun, _ := s.store.GetMeta(metaRunID)
	run := make([]byte, 16)
	_, _ = rand.Read(run)
	if err := s.store.SetMeta(metaBootID, []byte(bootID)); err != nil {
		return fmt.Errorf("record boot id: %w", err)
	}
	if err := s.store.SetMeta(metaRunID, []byte(hex.EncodeToString(run))); err != nil {
		return fmt.Errorf("record run id: %w", err)
	}
	conts, err := s.store.List(contstore.Filter{})
	if err != nil {
		return fmt.Errorf("list continuations: %w", err)
	}
	// Each reopen commits a state change; run recoverWriters of them at
	// once so that the store's group commit writes them together: one
	// fsync'd commit per continuation made restarting over 15,000 held
	// sessions take over a minute.
	var lost, kept atomic.Int64
	var wg sync.WaitGroup
	slots := make(chan struct{}, recoverWriters)
	for _, c := range conts {
		if !c.Expires.IsZero() {
			s.expiries[c.ID] = c.Expires.UnixNano()
		}
		switch c.State {
		case contstore.StateSuspending, contstore.StateSuspended, contstore.StateResuming:
		default:
			continue
		}
		slots <- struct{}{}
		wg.Go(func() {
			defer func() { <-slots }()
			if s.reopen(c) {
				kept.Add(1)
			} else {
				lost.Add(1)
			}
		})
	}
	wg.Wait()
	s.closeStaleSessions()
	s.log.Info().Int("continuations", len(conts)).Int64("lost", lost.Load()).Int64("reopened", kept.Load()).
		Bool("same_boot", string(prevBoot) == bootID).Str("previous_run", string(prevRun)).Msg("store recovered")
	return nil
}

// reopen holds a continuation of a previous run again if its descriptors
// can be reopened by path, and marks it lost otherwise; it reports whether
// the continuation is kept.
func (s *Supervisor) reopen(c contstore.Continuation) bool {
	var fds []int
	var err error
	if isFDStoreRecord(&c) {
		err = errors.New("an fd store entry dies with the supervisor that held it")
	} else {
		fds, err = reopenFiles(c)
	}
	if err == nil && c.State == contstore.StateResuming {
		err = s.store.Transition(c.ID, c.State, contstore.StateSuspended)
		c.State = contstore.StateSuspended
	}
	if err == nil && c.State == contstore.StateSuspending {
		err = errors.New("never committed as suspended")
	}
	if err != nil {
		closeFDs(fds)
		if terr := s.store.Transition(c.ID, c.State, contstore.StateLost); terr != nil {
			s.log.Error().Err(terr).Stringer("cont", c.ID).Msg("continuation not marked lost")
		}
		s.log.Info().Err(err).Stringer("cont", c.ID).Str("app", c.App).Msg("continuation lost")
		return false
	}
	// The app is not running in this run: the continuation waits in the
	// holder table under a placeholder app of that name until an app of that
	// name starts (StartApp adopts it) or it expires.
	s.mu.Lock() // recover reopens several at once
	a := s.orphanApp(c.App)
	h := &heldCont{rec: heldRecordOf(&c), app: a, fds: fds, state: contstore.StateSuspended, sweep: s.wakeSweeper}
	h.rec.Exec = s.execs.share(a.name, h.rec.Exec) // as hold does
	s.held[c.ID] = h
	s.mu.Unlock()
	s.log.Info().Stringer("cont", c.ID).Str("app", c.App).Int("fds", len(fds)).Msg("continuation reopened")
	return true
}

// orphanApp returns the placeholder of an app that does not run in this
// run, for continuations recovered from an earlier one. The caller holds
// s.mu or runs before Run.
func (s *Supervisor) orphanApp(name string) *App {
	if a := s.orphans[name]; a != nil {
		return a
	}
	a := &App{name: name, orphan: true, stdio: [3]int{-1, -1, -1}, done: make(chan struct{})}
	s.orphans[name] = a
	return a
}

// adopt hands the continuations recovered for app a's name over to a, now
// that it runs. The caller holds s.mu.
func (s *Supervisor) adopt(a *App) {
	orphan := s.orphans[a.name]
	if orphan == nil {
		return
	}
	delete(s.orphans, a.name)
	for _, h := range s.held {
		if h.app == orphan {
			h.app = a
		}
	}
}

// reopenFiles opens the held descriptors of a continuation again by path:
// only regular files and directories, not deleted, at the same flags and
// offset. On error nothing stays open.
func reopenFiles(c contstore.Continuation) ([]int, error) {
	fds := make([]int, c.FDsAfter)
	for i := range fds {
		fds[i] = -1
	}
	for _, sl := range c.Slots {
		d := sl.Desc
		if d.Kind != fdpass.KindFile && d.Kind != fdpass.KindDir {
			closeFDs(fds)
			return nil, fmt.Errorf("slot %d is a %s, which does not survive its holder", sl.Number, d.Kind)
		}
		if sl.Held < 0 || fds[sl.Held] >= 0 {
			continue
		}
		if strings.HasSuffix(d.Path, " (deleted)") || !strings.HasPrefix(d.Path, "/") {
			closeFDs(fds)
			return nil, fmt.Errorf("slot %d: %q cannot be opened by path", sl.Number, d.Path)
		}
		flags := d.Flags&^(unix.O_CREAT|unix.O_TRUNC|unix.O_EXCL|unix.O_NOCTTY) | unix.O_CLOEXEC
		fd, err := unix.Open(d.Path, flags, 0)
		if err == nil && d.Kind == fdpass.KindFile {
			_, err = unix.Seek(fd, d.Offset, 0)
		}
		if err != nil {
			closeFDs(fds)
			return nil, fmt.Errorf("reopen slot %d %s: %w", sl.Number, d.Path, err)
		}
		fds[sl.Held] = fd
	}
	return fds, nil
}

// closeStaleSessions closes the sessions an earlier run left active.
func (s *Supervisor) closeStaleSessions() {
	sessions, err := s.store.ListSessions("")
	if err != nil {
		s.log.Warn().Err(err).Msg("sessions not listed")
		return
	}
	for _, sess := range sessions {
		if sess.State == contstore.SessionActive {
			sess.State = contstore.SessionClosed
			if err := s.store.PutSession(&sess); err != nil {
				s.log.Warn().Err(err).Stringer("session", sess.ID).Msg("stale session not closed")
			}
		}
	}
}
