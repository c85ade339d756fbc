package contstore

import (
	"encoding/binary"
	"fmt"
	"math"
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
	now := time.Now().Round(0).UTC() // outside the function Batch may repeat
	err := s.update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketContinuations)
		val := b.Get(id[:])
		if val == nil {
			return ErrNotFound
		}
		f, err := unframe(val)
		if err != nil {
			return err
		}
		c, err := f.decode(false)
		if err != nil {
			return err
		}
		if c.State != from {
			return &StateError{ID: id, Expected: from, Actual: c.State}
		}
		old := keysOf(&c)
		c.State, c.Changed = to, now
		js, err := marshalHeader(&c)
		if err != nil {
			return err
		}
		if err := b.Put(id[:], frame(f.rawLen, js, f.packed)); err != nil {
			return err
		}
		if err := tx.Bucket(bucketByState).Delete(old.state); err != nil {
			return err
		}
		return tx.Bucket(bucketByState).Put(keysOf(&c).state, nil)
	})
	if err != nil {
		return fmt.Errorf("transition %s from %s to %s: %w", id, from, to, err)
	}
	return nil
}

// ExpiredBefore returns the IDs of the continuations whose Expires is
// before t, soonest first, whatever their state: the garbage collector
// moves those still suspended to expired (Transition) and deletes the ones
// already final. Continuations without an expiry never appear.
func (s *Store) ExpiredBefore(t time.Time) ([]ID, error) {
	var ids []ID
	limit := expiryLimit(t)
	err := s.view(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketExpiry).Cursor()
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			if len(k) != 8+len(ID{}) {
				return fmt.Errorf("%w: expiry index key of %d bytes", ErrCorrupt, len(k))
			}
			if binary.BigEndian.Uint64(k) >= limit {
				break
			}
			id, _ := idSuffix(k)
			ids = append(ids, id)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list continuations expired before %s: %w", t, err)
	}
	return ids, nil
}

// expiryLimit is t as an expiry index time, clamped to the index's range.
func expiryLimit(t time.Time) uint64 {
	switch {
	case !t.After(time.Unix(0, 0)):
		return 0
	case t.After(maxUnixNano):
		return math.MaxUint64
	}
	return uint64(t.UnixNano())
}
