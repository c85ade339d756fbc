package contstore

import (
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// PutMarking is Put that also records, in the same commit, the
// continuation's session as being in state st: a suspend stores the
// continuation and marks its session suspended with one fsync'd commit
// instead of two. It fails as Put does, and then writes nothing, the
// session's state included.
func (s *Store) PutMarking(c *Continuation, st SessionState) error {
	if !st.valid() {
		return fmt.Errorf("put continuation: %w", invalid("session state", "unknown session state %q", st))
	}
	return s.put(c, st)
}

// TransitionMarking is Transition that also records, in the same commit,
// the continuation's session as being in state st: a resume confirmed by
// the fresh process marks the continuation resumed and its session active
// again with one commit. The session must be stored (ErrNotFound
// otherwise); on any error nothing changes.
func (s *Store) TransitionMarking(id ID, from, to State, st SessionState) error {
	if !CanTransition(from, to) {
		return fmt.Errorf("transition %s from %s to %s: %w", id, from, to, ErrTransition)
	}
	if !st.valid() {
		return fmt.Errorf("transition %s from %s to %s: %w", id, from, to, invalid("session state", "unknown session state %q", st))
	}
	now := time.Now().Round(0).UTC() // outside the function a shared commit may repeat
	err := s.update(func(tx *bolt.Tx) error {
		sess, err := moveState(tx, id, from, to, now)
		if err != nil {
			return err
		}
		return markSession(tx, sess, st)
	})
	if err != nil {
		return fmt.Errorf("transition %s from %s to %s (session %s): %w", id, from, to, st, err)
	}
	return nil
}

// markSession sets the stored state of session id inside tx.
func markSession(tx *bolt.Tx, id SessionID, st SessionState) error {
	sess, err := getSession(tx, id)
	if err != nil {
		return fmt.Errorf("session %d: %w", id, err)
	}
	if sess.State == st {
		return nil
	}
	sess.State = st
	val, err := marshalSession(sess)
	if err != nil {
		return err
	}
	return tx.Bucket(bucketSessions).Put(id.key(), val)
}
