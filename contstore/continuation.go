package contstore

import (
	"errors"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Put stores a new continuation and returns once it is on disk. An ID of 0
// gets the next number of the store's sequence (1, 2, 3, … in a new store),
// assigned inside the write transaction; a failed Put uses up no number. A
// caller may give its own non-zero ID instead (a restarted supervisor
// re-inserting what it knows); the sequence then moves past it, so no later
// ID collides with it. A zero Created gets the current time; Put then sets
// Changed, FDsBefore and the store sizes, and writes them back to *c only on
// success.
//
// The record must validate (a *ValidationError otherwise), its Session must
// be a stored session of the same App, and a given ID must be new
// (ErrExists). When the sequence has run out, which only a given ID of
// 2^64-1 makes happen, Put with ID 0 fails with ErrIDsExhausted. A failed
// Put writes nothing.
func (s *Store) Put(c *Continuation) error { return s.put(c, "") }

// put is Put, marking the session st in the same commit unless st is "".
func (s *Store) put(c *Continuation, st SessionState) error {
	op := "put continuation"
	if c.ID != 0 {
		op += " " + c.ID.String()
	}
	rec, val, err := newRecord(c)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	// val leaves the ID out, so it does not depend on the run of the
	// function below (a shared commit may run it more than once); rec.ID
	// is set by every run, and the last one is the one committed.
	given := c.ID
	err = s.update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketContinuations)
		if given != 0 {
			if _, taken := lookup(b, given.key()); taken {
				return ErrExists
			}
		}
		id, err := claimID(b, uint64(given))
		if err != nil {
			return err
		}
		rec.ID = ID(id)
		if err := sessionOwnedBy(tx, rec.Session, rec.App); err != nil {
			return err
		}
		if err := b.Put(rec.ID.key(), val); err != nil {
			return err
		}
		if st != "" {
			if err := markSession(tx, rec.Session, st); err != nil {
				return err
			}
		}
		return keysOf(&rec).put(tx)
	})
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	*c = rec
	return nil
}

// newRecord is the part of Put that needs no transaction: it fills in the
// fields Put sets but the ID, validates and encodes.
func newRecord(c *Continuation) (Continuation, []byte, error) {
	rec := *c
	if rec.Created.IsZero() {
		rec.Created = time.Now()
	}
	rec.Created = rec.Created.Round(0).UTC()
	rec.Changed = rec.Created
	if !rec.Expires.IsZero() {
		rec.Expires = rec.Expires.Round(0).UTC()
	}
	if err := validateNew(&rec); err != nil {
		return rec, nil, err
	}
	val, err := encodeRecord(&rec)
	return rec, val, err
}

// sessionOwnedBy checks that session is stored and belongs to app.
func sessionOwnedBy(tx *bolt.Tx, session SessionID, app string) error {
	sess, err := getSession(tx, session)
	if errors.Is(err, ErrNotFound) {
		return invalid("Session", "%d is not a stored session", session)
	} else if err != nil {
		return err
	}
	if sess.App != app {
		return invalid("Session", "%d belongs to app %q, not %q", session, sess.App, app)
	}
	return nil
}

// Get returns the continuation with the given ID, store included, or an
// error wrapping ErrNotFound.
func (s *Store) Get(id ID) (Continuation, error) {
	var c Continuation
	err := s.view(func(tx *bolt.Tx) (err error) {
		c, err = getContinuation(tx, id, true)
		return err
	})
	if err != nil {
		return Continuation{}, fmt.Errorf("get continuation %s: %w", id, err)
	}
	return c, nil
}

func getContinuation(tx *bolt.Tx, id ID, withStore bool) (Continuation, error) {
	val := tx.Bucket(bucketContinuations).Get(id.key())
	if val == nil {
		return Continuation{}, ErrNotFound
	}
	return decodeRecord(id, val, withStore)
}

// Delete removes a continuation, in whatever state, with its index
// entries. A missing ID is an error wrapping ErrNotFound.
func (s *Store) Delete(id ID) error {
	err := s.update(func(tx *bolt.Tx) error {
		c, err := getContinuation(tx, id, false)
		if err != nil {
			return err
		}
		if err := tx.Bucket(bucketContinuations).Delete(id.key()); err != nil {
			return err
		}
		return keysOf(&c).delete(tx)
	})
	if err != nil {
		return fmt.Errorf("delete continuation %s: %w", id, err)
	}
	return nil
}

// Filter selects continuations for List. Empty (zero) fields match
// everything.
type Filter struct {
	App     string
	State   State
	Session SessionID
	// SkipStore leaves Store nil (the sizes are still set), which spares
	// decompressing every store.
	SkipStore bool
}

// List returns the continuations that match f, sorted by ID (creation
// order). A filter on Session or State reads only the matching index
// entries; one on App alone reads the by-state index once per state.
func (s *Store) List(f Filter) ([]Continuation, error) {
	var out []Continuation
	err := s.view(func(tx *bolt.Tx) error {
		ids, err := selectIDs(tx, f)
		if err != nil {
			return err
		}
		for _, id := range ids {
			c, err := getContinuation(tx, id, !f.SkipStore)
			if err != nil {
				return fmt.Errorf("continuation %s: %w", id, err)
			}
			if (f.App == "" || c.App == f.App) && (f.State == "" || c.State == f.State) && (f.Session == 0 || c.Session == f.Session) {
				out = append(out, c)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list continuations: %w", err)
	}
	return out, nil
}

// selectIDs returns the IDs an index offers for f, sorted; List still
// matches every field of f against the records.
func selectIDs(tx *bolt.Tx, f Filter) ([]ID, error) {
	var ids []ID
	collect := func(k []byte) error {
		id, ok := idSuffix(k)
		if !ok {
			return fmt.Errorf("%w: index key %x holds no continuation id", ErrCorrupt, k)
		}
		ids = append(ids, id)
		return nil
	}
	var err error
	switch {
	case f.Session != 0:
		err = scanPrefix(tx.Bucket(bucketBySession), sessionPrefix(f.Session), collect)
	case f.State != "":
		err = scanPrefix(tx.Bucket(bucketByState), statePrefix(f.State, f.App), collect)
	case f.App != "":
		for _, st := range allStates {
			if err = scanPrefix(tx.Bucket(bucketByState), statePrefix(st, f.App), collect); err != nil {
				break
			}
		}
	default:
		err = tx.Bucket(bucketContinuations).ForEach(func(k, _ []byte) error {
			if _, ok := keyU64(k); !ok {
				return fmt.Errorf("%w: continuation key %x is not an id", ErrCorrupt, k)
			}
			return collect(k)
		})
	}
	slices.Sort(ids)
	return ids, err
}
