package contstore

import (
	"errors"
	"testing"
)

func sessionState(t *testing.T, s *Store, id SessionID) SessionState {
	t.Helper()
	sess, err := s.GetSession(id)
	if err != nil {
		t.Fatal(err)
	}
	return sess.State
}

func TestPutMarkingStoresAndMarksInOneCommit(t *testing.T) {
	s := newTestStore(t)
	sid := putSession(t, s, "sshd")
	before := txID(t, s)
	c := smallContinuation("sshd", sid, StateSuspended)
	if err := s.PutMarking(&c, SessionSuspended); err != nil {
		t.Fatal(err)
	}
	if got := txID(t, s) - before; got != 1 {
		t.Errorf("PutMarking took %d commits, want 1", got)
	}
	if got, err := s.Get(c.ID); err != nil || got.State != StateSuspended {
		t.Errorf("Get(%s) = %v, %v; want the suspended continuation", c.ID, got.State, err)
	}
	if st := sessionState(t, s, sid); st != SessionSuspended {
		t.Errorf("session state %q, want suspended", st)
	}
}

func TestPutMarkingFailureWritesNothing(t *testing.T) {
	s := newTestStore(t)
	sid := putSession(t, s, "sshd")
	taken := mustPut(t, s, smallContinuation("sshd", sid, StateSuspended))
	before := txID(t, s)

	c := smallContinuation("sshd", sid, StateSuspended)
	c.ID = taken.ID
	if err := s.PutMarking(&c, SessionSuspended); !errors.Is(err, ErrExists) {
		t.Errorf("PutMarking with a taken ID: %v, want ErrExists", err)
	}
	c = smallContinuation("sshd", sid, StateSuspended)
	var verr *ValidationError
	if err := s.PutMarking(&c, "asleep"); !errors.As(err, &verr) {
		t.Errorf("PutMarking with session state asleep: %v, want a *ValidationError", err)
	}
	if got := txID(t, s); got != before {
		t.Errorf("failed PutMarkings committed %d times", got-before)
	}
	if st := sessionState(t, s, sid); st != SessionActive {
		t.Errorf("session state %q after failed PutMarkings, want active", st)
	}
}

func TestTransitionMarkingMovesBothInOneCommit(t *testing.T) {
	s := newTestStore(t)
	sid := putSession(t, s, "sshd")
	c := smallContinuation("sshd", sid, StateSuspended)
	if err := s.PutMarking(&c, SessionSuspended); err != nil {
		t.Fatal(err)
	}
	if err := s.Transition(c.ID, StateSuspended, StateResuming); err != nil {
		t.Fatal(err)
	}
	before := txID(t, s)
	if err := s.TransitionMarking(c.ID, StateResuming, StateResumed, SessionActive); err != nil {
		t.Fatal(err)
	}
	if got := txID(t, s) - before; got != 1 {
		t.Errorf("TransitionMarking took %d commits, want 1", got)
	}
	if got, err := s.Get(c.ID); err != nil || got.State != StateResumed {
		t.Errorf("Get(%s) = %v, %v; want resumed", c.ID, got.State, err)
	}
	if st := sessionState(t, s, sid); st != SessionActive {
		t.Errorf("session state %q, want active", st)
	}
}

func TestTransitionMarkingFailureChangesNothing(t *testing.T) {
	s := newTestStore(t)
	sid := putSession(t, s, "sshd")
	c := smallContinuation("sshd", sid, StateSuspended)
	if err := s.PutMarking(&c, SessionSuspended); err != nil {
		t.Fatal(err)
	}
	before := txID(t, s)
	var serr *StateError
	if err := s.TransitionMarking(c.ID, StateResuming, StateResumed, SessionActive); !errors.As(err, &serr) || serr.Actual != StateSuspended {
		t.Errorf("TransitionMarking from the wrong state: %v, want a *StateError naming suspended", err)
	}
	if err := s.TransitionMarking(c.ID, StateSuspended, StateResumed, SessionActive); !errors.Is(err, ErrTransition) {
		t.Errorf("TransitionMarking suspended → resumed: %v, want ErrTransition", err)
	}
	if err := s.TransitionMarking(c.ID+1, StateSuspended, StateResuming, SessionActive); !errors.Is(err, ErrNotFound) {
		t.Errorf("TransitionMarking of a missing continuation: %v, want ErrNotFound", err)
	}
	var verr *ValidationError
	if err := s.TransitionMarking(c.ID, StateSuspended, StateResuming, ""); !errors.As(err, &verr) {
		t.Errorf("TransitionMarking to session state \"\": %v, want a *ValidationError", err)
	}
	if got := txID(t, s); got != before {
		t.Errorf("failed TransitionMarkings committed %d times", got-before)
	}
	if got, _ := s.Get(c.ID); got.State != StateSuspended {
		t.Errorf("continuation %s is %s, want still suspended", c.ID, got.State)
	}
	if st := sessionState(t, s, sid); st != SessionSuspended {
		t.Errorf("session state %q, want still suspended", st)
	}
}
