package contstore

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
	"time"
)

func TestTransitionCompareAndSet(t *testing.T) {
	s := newTestStore(t)
	s1 := putSession(t, s, "sshd")
	c := mustPut(t, s, fullContinuation("sshd", s1))
	before := time.Now().Round(0)
	if err := s.Transition(c.ID, StateSuspended, StateResuming); err != nil {
		t.Fatal(err)
	}
	got, err := s.Get(c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != StateResuming || got.Changed.Before(before) || got.Changed.After(time.Now()) {
		t.Errorf("after Transition: state %s, changed %s; want resuming, changed now", got.State, got.Changed)
	}
	// Everything but State and Changed is as put, the store included.
	got.State, got.Changed = c.State, c.Changed
	if !reflect.DeepEqual(got, c) {
		t.Errorf("Transition changed more than the state:\n got %+v\nwant %+v", got, c)
	}
	if ids := listIDs(t, s, Filter{State: StateResuming}); !reflect.DeepEqual(ids, []ID{c.ID}) {
		t.Errorf("List(resuming) = %v, want the moved record", ids)
	}
	if ids := listIDs(t, s, Filter{State: StateSuspended}); len(ids) != 0 {
		t.Errorf("List(suspended) = %v, want none", ids)
	}

	// The compare fails: the record is resuming, not suspended.
	file := fileBytes(t, s.Path())
	err = s.Transition(c.ID, StateSuspended, StateDropped)
	var serr *StateError
	if !errors.As(err, &serr) || !errors.Is(err, ErrStateMismatch) || serr.Actual != StateResuming || serr.Expected != StateSuspended || serr.ID != c.ID {
		t.Fatalf("Transition from a stale state: %v, want a *StateError saying resuming", err)
	}
	if !bytes.Equal(file, fileBytes(t, s.Path())) {
		t.Error("a failed Transition changed the file")
	}

	// A failed resume goes back to suspended, then the session resumes.
	for _, step := range [][2]State{{StateResuming, StateSuspended}, {StateSuspended, StateResuming}, {StateResuming, StateResumed}} {
		if err := s.Transition(c.ID, step[0], step[1]); err != nil {
			t.Fatalf("Transition %s → %s: %v", step[0], step[1], err)
		}
	}
}

func TestTransitionForbidden(t *testing.T) {
	s := newTestStore(t)
	s1 := putSession(t, s, "app")
	c := mustPut(t, s, smallContinuation("app", s1, StateSuspended))
	file := fileBytes(t, s.Path())
	for _, step := range [][2]State{
		{StateSuspended, StateSuspending}, // no way back to collecting
		{StateSuspended, StateResumed},    // a resume goes through resuming
		{StateSuspended, StateSuspended},  // not a move
		{StateSuspended, "sleeping"},
		{StateExpired, StateSuspended}, // final states stay final
		{StateLost, StateResuming},
		{StateResumed, StateSuspended},
		{StateDropped, StateSuspended},
	} {
		err := s.Transition(c.ID, step[0], step[1])
		if !errors.Is(err, ErrTransition) {
			t.Errorf("Transition %s → %s: %v, want ErrTransition", step[0], step[1], err)
		}
	}
	if !bytes.Equal(file, fileBytes(t, s.Path())) {
		t.Error("a forbidden Transition changed the file")
	}
	if got, err := s.Get(c.ID); err != nil || got.State != StateSuspended {
		t.Errorf("after forbidden transitions: %s, %v; want suspended", got.State, err)
	}
}

func TestTransitionMissing(t *testing.T) {
	s := newTestStore(t)
	for _, id := range []ID{0, 1, 1 << 40} {
		if err := s.Transition(id, StateSuspended, StateExpired); !errors.Is(err, ErrNotFound) {
			t.Errorf("Transition of missing continuation %s: %v, want ErrNotFound", id, err)
		}
	}
}

func TestStateMachine(t *testing.T) {
	// Every state is reachable from a new continuation, and the final
	// states are exactly those no transition leaves.
	reached := map[State]bool{StateSuspending: true, StateSuspended: true}
	for changed := true; changed; {
		changed = false
		for _, from := range States() {
			for _, to := range States() {
				if reached[from] && !reached[to] && CanTransition(from, to) {
					reached[to], changed = true, true
				}
			}
		}
	}
	for _, st := range States() {
		if !reached[st] {
			t.Errorf("state %s cannot be reached", st)
		}
		exits := 0
		for _, to := range States() {
			if CanTransition(st, to) {
				exits++
			}
		}
		if st.Final() != (exits == 0) {
			t.Errorf("%s: Final() = %v with %d exits", st, st.Final(), exits)
		}
	}
	for _, st := range []State{StateResumed, StateDropped, StateExpired, StateLost} {
		if !st.Final() {
			t.Errorf("%s is not final", st)
		}
	}
	if State("sleeping").Valid() || State("sleeping").Final() {
		t.Error("an unknown state counts as valid or final")
	}
	States()[0] = "sleeping" // a caller's copy, not the package's list
	if !StateSuspending.Valid() || State("sleeping").Valid() {
		t.Error("changing the slice States returned changed the states")
	}
}
