package contstore

import "slices"

// Kind is the layer of a continuation (the paper's Fig. 3).
type Kind string

// The three kinds of continuation.
const (
	// KindSystem (C_sys) restores descriptors only; the process that
	// suspended is still running and gets them back.
	KindSystem Kind = "system"
	// KindInternal (C_int) is resumed inside a running process through its
	// attach handler: descriptors plus the attribute/value store.
	KindInternal Kind = "internal"
	// KindComplete (C_comp) is resumed by a fresh process started from Exec,
	// with the descriptors and the store.
	KindComplete Kind = "complete"
)

func (k Kind) valid() bool {
	return k == KindSystem || k == KindInternal || k == KindComplete
}

// State is where a continuation is in its life. The allowed moves:
//
//	from        to
//	suspending  suspended, dropped, lost
//	suspended   resuming, dropped, expired, lost
//	resuming    resumed, suspended, dropped, lost
//	resumed     (final)
//	dropped     (final)
//	expired     (final)
//	lost        (final)
//
// A new continuation is put as suspending (the supervisor is still collecting
// a group of dependent sessions) or suspended (committed and acknowledged to
// the app; the supervisor holds its descriptors). resuming marks a resume in
// progress; it ends in resumed, or back in suspended when the resume failed
// and the descriptors are still held. dropped is an explicit discard,
// expired a discard by the garbage collector after Expires, and lost marks a
// continuation whose held descriptors died with a previous supervisor run
// (the boot id the supervisor keeps with SetMeta changed). A record in a
// final state only waits for Delete.
type State string

// The states; see State for the allowed transitions.
const (
	StateSuspending State = "suspending"
	StateSuspended  State = "suspended"
	StateResuming   State = "resuming"
	StateResumed    State = "resumed"
	StateDropped    State = "dropped"
	StateExpired    State = "expired"
	StateLost       State = "lost"
)

var allStates = [...]State{
	StateSuspending, StateSuspended, StateResuming, StateResumed,
	StateDropped, StateExpired, StateLost,
}

// States returns every state in the order of the table above, for callers
// that report counts by state.
func States() []State { return slices.Clone(allStates[:]) }

var transitions = map[State][]State{
	StateSuspending: {StateSuspended, StateDropped, StateLost},
	StateSuspended:  {StateResuming, StateDropped, StateExpired, StateLost},
	StateResuming:   {StateResumed, StateSuspended, StateDropped, StateLost},
}

// Valid reports whether s is one of the states above.
func (s State) Valid() bool {
	for _, known := range allStates {
		if s == known {
			return true
		}
	}
	return false
}

// Final reports whether no transition leaves s.
func (s State) Final() bool { return s.Valid() && len(transitions[s]) == 0 }

// initial reports whether Put accepts a new continuation in state s.
func (s State) initial() bool { return s == StateSuspending || s == StateSuspended }

// CanTransition reports whether the state machine allows moving from one
// state to another. Staying in the same state is not a transition.
func CanTransition(from, to State) bool {
	for _, next := range transitions[from] {
		if next == to {
			return true
		}
	}
	return false
}
