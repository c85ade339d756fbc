package supervisor

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/migrate-run/migrate/contstore"
)

// sweep drops continuations as they expire. It sleeps until the soonest
// expiry it knows of (or a new, sooner one arrives) rather than polling.
func (s *Supervisor) sweep(stop <-chan struct{}) {
	defer s.wg.Done()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		if _, err := s.gc(time.Now()); err != nil {
			s.log.Error().Err(err).Msg("expiry sweep failed")
		}
		timer.Reset(s.nextExpiry())
		select {
		case <-timer.C:
		case <-s.sweepWake:
		case <-stop:
			return
		}
	}
}

// nextExpiry returns how long until the soonest known expiry (an hour at
// most, so a clock step is caught up with).
func (s *Supervisor) nextExpiry() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	wait := time.Hour
	now := time.Now()
	for id, at := range s.expiries {
		if h := s.held[id]; h != nil && h.state == contstore.StateResuming {
			continue // decided when the resume ends, which wakes the sweeper
		}
		if d := time.Unix(0, at).Sub(now); d < wait {
			wait = max(d, time.Millisecond)
		}
	}
	return wait
}

// GC expires every continuation whose expiry has passed, now: held ones
// are dropped (descriptors closed, record marked expired then deleted),
// records already final are deleted. It returns the ids it expired.
func (s *Supervisor) GC(ctx context.Context) ([]contstore.ID, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return s.gc(time.Now())
}

func (s *Supervisor) gc(now time.Time) ([]contstore.ID, error) {
	ids, err := s.store.ExpiredBefore(now)
	if err != nil {
		return nil, fmt.Errorf("list expired continuations: %w", err)
	}
	var expired []contstore.ID
	for _, id := range ids {
		s.mu.Lock()
		h := s.held[id]
		s.mu.Unlock()
		if h != nil {
			if err := s.dropHeld(h, contstore.StateExpired, "expired"); err != nil {
				if !errors.Is(err, ErrBusy) { // a resume in progress decides
					s.log.Warn().Err(err).Stringer("cont", id).Msg("continuation not expired")
				}
				continue
			}
			expired = append(expired, id)
			continue
		}
		rec, err := s.store.Get(id)
		if err != nil || !rec.State.Final() {
			continue // resuming, or gone meanwhile
		}
		if err := s.store.Delete(id); err != nil {
			s.log.Warn().Err(err).Stringer("cont", id).Msg("expired record not deleted")
			continue
		}
		s.forgetExpiry(id)
		s.log.Debug().Stringer("cont", id).Str("state", string(rec.State)).Msg("expired record deleted")
	}
	return expired, nil
}

// wakeSweeper makes the sweeper look at the expiries again. The caller may
// hold s.mu.
func (s *Supervisor) wakeSweeper() {
	select {
	case s.sweepWake <- struct{}{}:
	default:
	}
}

func (s *Supervisor) forgetExpiry(id contstore.ID) {
	s.mu.Lock()
	delete(s.expiries, id)
	s.mu.Unlock()
}

// dropHeld ends a suspended, held continuation without resuming it: its
// state moves to final (expired or dropped), its descriptors are closed, its
// session is closed, and its record deleted. A continuation being resumed
// is left alone (ErrBusy).
func (s *Supervisor) dropHeld(h *heldCont, final contstore.State, why string) error {
	s.mu.Lock()
	if h.state != contstore.StateSuspended || s.held[h.rec.ID] != h {
		s.mu.Unlock()
		return fmt.Errorf("drop continuation %v in state %s: %w", h.rec.ID, h.state, ErrBusy)
	}
	h.state = final
	s.mu.Unlock()
	if err := s.store.Transition(h.rec.ID, contstore.StateSuspended, final); err != nil {
		s.mu.Lock()
		h.state = contstore.StateSuspended
		s.mu.Unlock()
		return fmt.Errorf("drop continuation %v: %w", h.rec.ID, err)
	}
	s.mu.Lock()
	s.release(h)
	sess := h.sess
	if sess != nil && sess.cont == h.rec.ID {
		delete(s.sessions, sess.id)
		closeFDs([]int{sess.dup})
		sess.dup = -1
	}
	s.mu.Unlock()
	if err := s.store.Delete(h.rec.ID); err != nil {
		s.log.Warn().Err(err).Stringer("cont", h.rec.ID).Msg("dropped record not deleted")
	} else {
		s.forgetExpiry(h.rec.ID)
	}
	if sess != nil {
		s.markSession(sess, contstore.SessionClosed)
	}
	s.log.Info().Str("app", h.app.name).Stringer("cont", h.rec.ID).Str("state", string(final)).Str("why", why).Msg("continuation dropped")
	s.checkDone(h.app)
	return nil
}

// Drop discards suspended continuation id: descriptors closed, record
// deleted.
func (s *Supervisor) Drop(id contstore.ID) error {
	s.mu.Lock()
	h := s.held[id]
	s.mu.Unlock()
	if h == nil {
		if s.dropFDEntry(id) {
			return nil
		}
		return s.notHeld(id)
	}
	return s.dropHeld(h, contstore.StateDropped, "dropped")
}
