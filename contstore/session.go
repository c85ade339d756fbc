package contstore

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/migrate-run/migrate/fdpass"
)

// SessionState is where a session is, as the supervisor sees it.
type SessionState string

// The session states. The store does not restrict moves between them.
const (
	SessionActive    SessionState = "active"    // the app is serving it
	SessionSuspended SessionState = "suspended" // a continuation holds it
	SessionClosed    SessionState = "closed"    // over; kept for its history
)

func (s SessionState) valid() bool {
	return s == SessionActive || s == SessionSuspended || s == SessionClosed
}

// Session is a conversation an app registered (GetSession in the paper).
// Continuations refer to it by ID.
type Session struct {
	// ID is the session's key, the id the protocol carries; PutSession
	// assigns the next one when it is 0. The stored value leaves it out.
	ID SessionID `json:"id,omitzero"`
	// App owns the session; it cannot change once stored.
	App   string       `json:"app"`
	State SessionState `json:"state"`
	// Conn describes the session's connection when it was registered.
	Conn fdpass.Description `json:"conn"`
	// DependsOn are the ids of sessions this one depends on: suspending any
	// of them suspends this one. They are not required to exist (any more),
	// but a session PutSession numbers may only name sessions numbered
	// before it, that is ids below its own.
	DependsOn []SessionID `json:"dependsOn,omitempty"`
	// Created is when the session was registered; PutSession sets it to now
	// when zero.
	Created time.Time `json:"created"`
}

// validateSession checks a session; its ID, the key, is checked where it
// is claimed (claimID) or read (keyU64).
func validateSession(s *Session) error {
	if err := validName("App", s.App); err != nil {
		return err
	}
	if !s.State.valid() {
		return invalid("State", "unknown session state %q", s.State)
	}
	return validateDeps(s.ID, s.DependsOn)
}

// PutSession stores a session and returns once it is on disk. An ID of 0
// gets the next number of the store's session sequence, assigned inside the
// write transaction as Put does for continuations; a non-zero ID stores the
// session under that ID, replacing one stored there (and moving the
// sequence past it). A replacement may change everything but App. On success
// PutSession writes ID and Created back to *sess; a failed PutSession
// writes nothing and uses up no number.
func (s *Store) PutSession(sess *Session) error {
	op := "put session"
	if sess.ID != 0 {
		op += " " + sess.ID.String()
	}
	rec := *sess
	if rec.Created.IsZero() {
		rec.Created = time.Now()
	}
	rec.Created = rec.Created.Round(0).UTC()
	if err := validateSession(&rec); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	val, err := marshalSession(rec)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	given := sess.ID
	err = s.update(func(tx *bolt.Tx) error {
		id, err := writeSession(tx, given, &rec, val)
		rec.ID = id
		return err
	})
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	*sess = rec
	return nil
}

// writeSession is PutSession's write: it claims the ID and stores val, the
// session encoded without it.
func writeSession(tx *bolt.Tx, given SessionID, rec *Session, val []byte) (SessionID, error) {
	b := tx.Bucket(bucketSessions)
	v, err := claimID(b, uint64(given))
	if err != nil {
		return 0, err
	}
	id := SessionID(v)
	if given == 0 {
		// A fresh number is above every id used so far, so a dependency
		// at or above it names a session that was never numbered.
		for i, d := range rec.DependsOn {
			if d >= id {
				return 0, invalid(fmt.Sprintf("DependsOn[%d]", i), "session %d has not been numbered yet (this one gets %d)", d, id)
			}
		}
	}
	old, err := getSession(tx, id)
	switch {
	case err == nil && old.App != rec.App:
		return 0, invalid("App", "session belongs to app %q", old.App)
	case err != nil && !errors.Is(err, ErrNotFound):
		return 0, err
	}
	return id, b.Put(id.key(), val)
}

func marshalSession(sess Session) ([]byte, error) {
	sess.ID = 0 // the key
	val, err := json.Marshal(&sess)
	if err != nil {
		return nil, fmt.Errorf("encode session: %w", err)
	}
	return val, nil
}

// GetSession returns the session with the given ID or an error wrapping
// ErrNotFound.
func (s *Store) GetSession(id SessionID) (Session, error) {
	var sess Session
	err := s.view(func(tx *bolt.Tx) (err error) {
		sess, err = getSession(tx, id)
		return err
	})
	if err != nil {
		return Session{}, fmt.Errorf("get session %d: %w", id, err)
	}
	return sess, nil
}

func getSession(tx *bolt.Tx, id SessionID) (Session, error) {
	val, ok := lookup(tx.Bucket(bucketSessions), id.key())
	if !ok {
		return Session{}, ErrNotFound
	}
	return decodeSession(id, val)
}

// decodeSession parses the value stored under id.
func decodeSession(id SessionID, val []byte) (Session, error) {
	var sess Session
	if err := json.Unmarshal(val, &sess); err != nil {
		return Session{}, fmt.Errorf("%w: session %d: %v", ErrCorrupt, id, err)
	}
	sess.ID = id
	return sess, nil
}

// ListSessions returns the sessions of app, or all sessions when app is
// empty, sorted by ID.
func (s *Store) ListSessions(app string) ([]Session, error) {
	var out []Session
	err := s.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketSessions).ForEach(func(k, v []byte) error {
			id, ok := keyU64(k)
			if !ok {
				return fmt.Errorf("%w: session key %x is not an id", ErrCorrupt, k)
			}
			sess, err := decodeSession(SessionID(id), v)
			if err == nil && (app == "" || sess.App == app) {
				out = append(out, sess)
			}
			return err
		})
	})
	if err != nil {
		return nil, fmt.Errorf("list sessions: %w", err)
	}
	return out, nil
}

// DeleteSession removes a session. It fails with ErrInUse while
// continuations of the session are stored, and with ErrNotFound if there is
// no such session. PutSession does not assign its ID again.
func (s *Store) DeleteSession(id SessionID) error {
	err := s.update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketSessions)
		if _, ok := lookup(b, id.key()); !ok {
			return ErrNotFound
		}
		n := 0
		err := scanPrefix(tx.Bucket(bucketBySession), sessionPrefix(id), func([]byte) error { n++; return nil })
		if err != nil {
			return err
		}
		if n > 0 {
			return fmt.Errorf("%d continuations refer to it: %w", n, ErrInUse)
		}
		return b.Delete(id.key())
	})
	if err != nil {
		return fmt.Errorf("delete session %d: %w", id, err)
	}
	return nil
}
