package contstore

import (
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Transition moves a continuation from one state to another, atomically and
// only if it is in from (compare-and-set), and sets Changed. It fails,
// writing nothing, with an error wrapping
//   - ErrTransition if the state machine forbids from → to (see State);
//   - ErrNotFound if there is no such continuation;
//   - a *StateError (ErrStateMismatch) naming the actual state if it is not
//     in from.
func (s *Store) Transition(id ID, from, to State) error {
	if !CanTransition(from, to) {
		return fmt.Errorf("transition %s from %s to %s: %w", id, from, to, ErrTransition)
	}
	now := time.Now().Round(0).UTC() // outside the function a shared commit may repeat
	err := s.update(func(tx *bolt.Tx) error {
		_, err := moveState(tx, id, from, to, now)
		return err
	})
	if err != nil {
		return fmt.Errorf("transition %s from %s to %s: %w", id, from, to, err)
	}
	return nil
}

// moveState is Transition's write: it rewrites the record's JSON part (the
// compressed store is copied as it is) and moves its by-state entry. It
// returns the continuation's session.
func moveState(tx *bolt.Tx, id ID, from, to State, now time.Time) (SessionID, error) {
	b := tx.Bucket(bucketContinuations)
	val := b.Get(id.key())
	if val == nil {
		return 0, ErrNotFound
	}
	f, err := unframe(val)
	if err != nil {
		return 0, err
	}
	c, err := f.decode(id, false)
	if err != nil {
		return 0, err
	}
	if c.State != from {
		return 0, &StateError{ID: id, Expected: from, Actual: c.State}
	}
	old := keysOf(&c)
	c.State, c.Changed = to, now
	js, err := marshalHeader(&c)
	if err != nil {
		return 0, err
	}
	if err := b.Put(id.key(), frame(f.rawLen, js, f.packed)); err != nil {
		return 0, err
	}
	if err := tx.Bucket(bucketByState).Delete(old.state); err != nil {
		return 0, err
	}
	return c.Session, tx.Bucket(bucketByState).Put(keysOf(&c).state, nil)
}
