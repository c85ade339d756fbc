package supervisor

import (
	"fmt"

	"github.com/migrate-run/migrate/contstore"
	"github.com/migrate-run/migrate/proto"
)

// A store operation acts on a live session's store (kept in memory while
// the session lives, and written into its continuation at suspend) or on a
// continuation's (the held copy while suspended or resuming; the stored
// record otherwise, read-only).

// storeSet handles Store.
func (s *Supervisor) storeSet(c *conn, m *proto.Store) error {
	if uint64(len(m.Value)) > uint64(s.cfg.MaxValueBytes) {
		return fmt.Errorf("store %q: value of %d bytes above %d: %w", m.Key, len(m.Value), s.cfg.MaxValueBytes, ErrTooLarge)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	entries, put, err := s.scopeStore(c, m.Scope, true)
	if err != nil {
		return err
	}
	old, had := entries[m.Key]
	total := uint64(len(m.Key) + len(m.Value))
	for k, e := range entries {
		if k != m.Key {
			total += uint64(len(k) + len(e.Value))
		}
	}
	if total > s.cfg.MaxStoreBytes {
		return fmt.Errorf("store %q: store of %d bytes above %d: %w", m.Key, total, s.cfg.MaxStoreBytes, ErrTooLarge)
	}
	put(proto.Entry{Key: m.Key, Value: m.Value, Exported: had && old.Exported})
	return nil
}

// storeGet handles Retrieve and StoreSize.
func (s *Supervisor) storeGet(c *conn, scope proto.Scope, key string) (proto.Entry, error) {
	s.mu.Lock()
	entries, _, err := s.scopeStore(c, scope, false)
	s.mu.Unlock()
	if err != nil {
		return proto.Entry{}, err
	}
	e, ok := entries[key]
	if !ok {
		return proto.Entry{}, fmt.Errorf("retrieve %q: %w", key, ErrUnknownKey)
	}
	return e, nil
}

// storeExport handles Export.
func (s *Supervisor) storeExport(c *conn, m *proto.Export) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	entries, put, err := s.scopeStore(c, m.Scope, true)
	if err != nil {
		return err
	}
	e, ok := entries[m.Key]
	if !ok {
		return fmt.Errorf("export %q: %w", m.Key, ErrUnknownKey)
	}
	e.Exported = true
	put(e)
	return nil
}

// scopeStore returns the entries of the store scope names, checked to
// belong to c's app, and a function that sets one entry. The caller holds
// s.mu. A continuation not held is read from the store and cannot be
// written.
func (s *Supervisor) scopeStore(c *conn, scope proto.Scope, write bool) (map[string]proto.Entry, func(proto.Entry), error) {
	if scope.Session != 0 {
		sess, err := s.ownSession(c, contstore.SessionID(scope.Session))
		if err != nil {
			return nil, nil, err
		}
		return sess.store, func(e proto.Entry) {
			if sess.store == nil {
				sess.store = map[string]proto.Entry{}
			}
			sess.store[e.Key] = e
		}, nil
	}
	id := contstore.ID(scope.Cont)
	if h := s.held[id]; h != nil {
		if h.app != c.app {
			return nil, nil, c.denied(fmt.Sprintf("use store of continuation %v", id), h.app.name)
		}
		return entryMap(h.rec.Store), func(e proto.Entry) { h.rec.Store = setEntry(h.rec.Store, e) }, nil
	}
	rec, err := s.store.Get(id)
	switch {
	case err != nil:
		return nil, nil, fmt.Errorf("use store of continuation %v: %w", id, ErrUnknownCont)
	case rec.App != c.app.name:
		return nil, nil, c.denied(fmt.Sprintf("use store of continuation %v", id), rec.App)
	case rec.State == contstore.StateExpired:
		return nil, nil, fmt.Errorf("use store of continuation %v: %w", id, ErrExpired)
	case write:
		return nil, nil, fmt.Errorf("write store of continuation %v in state %s: %w", id, rec.State, ErrBadState)
	}
	return entryMap(rec.Store), nil, nil
}

func entryMap(entries []contstore.Entry) map[string]proto.Entry {
	m := make(map[string]proto.Entry, len(entries))
	for _, e := range entries {
		m[e.Key] = proto.Entry{Key: e.Key, Value: e.Value, Exported: e.Exported}
	}
	return m
}

func setEntry(entries []contstore.Entry, e proto.Entry) []contstore.Entry {
	ce := contstore.Entry{Key: e.Key, Value: e.Value, Exported: e.Exported}
	for i := range entries {
		if entries[i].Key == e.Key {
			out := append([]contstore.Entry(nil), entries...)
			out[i] = ce
			return out
		}
	}
	return append(append([]contstore.Entry(nil), entries...), ce)
}
