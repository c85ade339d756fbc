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
	// ID is chosen by the supervisor and unique in the store.
	ID string `json:"id"`
	// App owns the session; it cannot change once stored.
	App   string       `json:"app"`
	State SessionState `json:"state"`
	// Conn describes the session's connection when it was registered.
	Conn fdpass.Description `json:"conn"`
	// DependsOn are the ids of sessions this one depends on: suspending any
	// of them suspends this one. They are not required to exist.
	DependsOn []string `json:"dependsOn,omitempty"`
	// Created is when the session was registered; PutSession sets it to now
	// when zero.
	Created time.Time `json:"created"`
}

func validateSession(s *Session) error {
	if err := validName("ID", s.ID); err != nil {
		return err
	}
	if err := validName("App", s.App); err != nil {
		return err
	}
	if !s.State.valid() {
		return invalid("State", "unknown session state %q", s.State)
	}
	return validateDeps(s.ID, s.DependsOn)
}

// PutSession stores a session, replacing one with the same ID. A
// replacement may change everything but App. A failed PutSession writes
// nothing.
func (s *Store) PutSession(sess Session) error {
	if sess.Created.IsZero() {
		sess.Created = time.Now()
	}
	sess.Created = sess.Created.Round(0).UTC()
	if err := validateSession(&sess); err != nil {
		return fmt.Errorf("put session %q: %w", sess.ID, err)
	}
	val, err := json.Marshal(&sess)
	if err != nil {
		return fmt.Errorf("put session %q: %w", sess.ID, err)
	}
	err = s.update(func(tx *bolt.Tx) error {
		old, err := getSession(tx, sess.ID)
		switch {
		case err == nil && old.App != sess.App:
			return invalid("App", "session belongs to app %q", old.App)
		case err != nil && !errors.Is(err, ErrNotFound):
			return err
		}
		return tx.Bucket(bucketSessions).Put([]byte(sess.ID), val)
	})
	if err != nil {
		return fmt.Errorf("put session %q: %w", sess.ID, err)
	}
	return nil
}

// GetSession returns the session with the given ID or an error wrapping
// ErrNotFound.
func (s *Store) GetSession(id string) (Session, error) {
	var sess Session
	err := s.view(func(tx *bolt.Tx) (err error) {
		sess, err = getSession(tx, id)
		return err
	})
	if err != nil {
		return Session{}, fmt.Errorf("get session %q: %w", id, err)
	}
	return sess, nil
}

func getSession(tx *bolt.Tx, id string) (Session, error) {
	val := tx.Bucket(bucketSessions).Get([]byte(id))
	if val == nil {
		return Session{}, ErrNotFound
	}
	return decodeSession(id, val)
}

func decodeSession(key string, val []byte) (Session, error) {
	var sess Session
	if err := json.Unmarshal(val, &sess); err != nil {
		return Session{}, fmt.Errorf("%w: session %q: %v", ErrCorrupt, key, err)
	}
	if sess.ID != key {
		return Session{}, fmt.Errorf("%w: session under key %q says it is %q", ErrCorrupt, key, sess.ID)
	}
	return sess, nil
}

// ListSessions returns the sessions of app, or all sessions when app is
// empty, sorted by ID.
func (s *Store) ListSessions(app string) ([]Session, error) {
	var out []Session
	err := s.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketSessions).ForEach(func(k, v []byte) error {
			sess, err := decodeSession(string(k), v)
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
// no such session.
func (s *Store) DeleteSession(id string) error {
	err := s.update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketSessions)
		if b.Get([]byte(id)) == nil {
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
		return b.Delete([]byte(id))
	})
	if err != nil {
		return fmt.Errorf("delete session %q: %w", id, err)
	}
	return nil
}
