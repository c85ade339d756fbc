package supervisor

import (
	"errors"
	"fmt"

	"github.com/migrate-run/migrate/contstore"
	"github.com/migrate-run/migrate/fdpass"
)

// fdStoreRole marks the slot of a continuation that records an fd-store
// entry: a system continuation of one descriptor, held by the app's fd
// store rather than the holder table, without expiry.
const fdStoreRole = "fdstore"

// isFDStoreRecord reports whether c records an fd-store entry.
func isFDStoreRecord(c *contstore.Continuation) bool {
	return c.Kind == contstore.KindSystem && len(c.Slots) == 1 && c.Slots[0].Role == fdStoreRole
}

// takeFDStore returns the fd store of an app that starts: the one an
// earlier run of the app kept (fdstore_preserve, or a restart on reload),
// or a new one.
func (s *Supervisor) takeFDStore(a *App) *fdStore {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f := s.keptFDStores[a.name]; f != nil {
		delete(s.keptFDStores, a.name)
		return f
	}
	name := a.name
	return newFDStore(a.spec.FDStoreMax, func(e fdEntry) {
		s.log.Info().Str("app", name).Str("fdname", e.Name).Msg("fd store entry hung up, removed")
		s.forgetFDEntry(name, e, contstore.StateDropped)
	})
}

// The ways an app's fd store ends with the app.
const (
	fdStoreKeep     = iota // kept for the next run of the app (failed start; preserve)
	fdStoreDrop            // closed and its records dropped (operator stop)
	fdStoreShutdown        // closed, records left for the next run to mark lost
)

// releaseFDStore ends a's hold on its fd store as how says.
func (s *Supervisor) releaseFDStore(a *App, how int) {
	f := a.fds
	if f == nil {
		return
	}
	a.fds = nil
	switch how {
	case fdStoreKeep:
		s.mu.Lock()
		s.keptFDStores[a.name] = f
		s.mu.Unlock()
	case fdStoreDrop:
		for _, e := range f.entries() {
			s.forgetFDEntry(a.name, e, contstore.StateDropped)
		}
		f.close()
	default:
		f.close()
	}
}

// fdStoreAdd keeps the descriptors of an FDSTORE=1 message.
func (s *Supervisor) fdStoreAdd(a *App, m notifyMsg) {
	s.mu.Lock()
	f := a.fds
	s.mu.Unlock()
	if f == nil {
		closeFDs(m.FDs)
		s.log.Warn().Str("app", a.name).Int("fds", len(m.FDs)).Msg("FDSTORE=1 but the service has no fd store (fdstore_max = 0), descriptors closed")
		return
	}
	poll := m.FDPoll == nil || *m.FDPoll
	added, err := f.add(m.FDName, m.FDs, poll)
	if err != nil {
		s.log.Warn().Err(err).Str("app", a.name).Str("fdname", m.FDName).Msg("fd store refused descriptors")
	}
	for _, e := range added {
		id, err := s.recordFDEntry(a.name, e)
		if err != nil {
			s.log.Error().Err(err).Str("app", a.name).Str("fdname", e.Name).Msg("fd store entry not recorded, kept in memory only")
			continue
		}
		f.setKey(e.FD, uint64(id))
	}
	if len(added) > 0 {
		s.log.Info().Str("app", a.name).Str("fdname", m.FDName).Int("added", len(added)).Int("held", f.len()).Msg("fd store updated")
	}
}

// fdStoreRemove drops the entries named name (FDSTOREREMOVE=1).
func (s *Supervisor) fdStoreRemove(a *App, name string) {
	s.mu.Lock()
	f := a.fds
	s.mu.Unlock()
	if f == nil {
		return
	}
	if name == "" {
		s.log.Warn().Str("app", a.name).Msg("FDSTOREREMOVE=1 without FDNAME, ignored")
		return
	}
	// The records go first: whoever sees the entries gone finds no record.
	for _, e := range f.entries() {
		if e.Name == name {
			s.forgetFDEntry(a.name, e, contstore.StateDropped)
		}
	}
	gone := f.remove(name)
	s.log.Info().Str("app", a.name).Str("fdname", name).Int("removed", len(gone)).Msg("fd store entries removed")
}

// recordFDEntry stores an fd-store entry as a system continuation of the
// app's fd-store session, which it creates on first use.
func (s *Supervisor) recordFDEntry(app string, e fdEntry) (contstore.ID, error) {
	sid, err := s.fdStoreSession(app)
	if err != nil {
		return 0, err
	}
	rec := contstore.Continuation{App: app, Session: sid, Kind: contstore.KindSystem, State: contstore.StateSuspended,
		Slots:     []contstore.Slot{{Name: e.Name, Role: fdStoreRole, Number: 0, Desc: e.Desc, Held: 0}},
		FDsBefore: 1, FDsAfter: 1, Note: "fd store: " + e.Name}
	if err := s.store.Put(&rec); err != nil {
		return 0, fmt.Errorf("record fd store entry: %w", err)
	}
	return rec.ID, nil
}

// fdStoreSession returns the id of the session app's fd-store records
// belong to.
func (s *Supervisor) fdStoreSession(app string) (contstore.SessionID, error) {
	s.mu.Lock()
	sid := s.fdSessions[app]
	s.mu.Unlock()
	if sid != 0 {
		return sid, nil
	}
	sess := contstore.Session{App: app, State: contstore.SessionSuspended,
		Conn: fdpass.Description{Kind: fdpass.KindUnknown}}
	if err := s.store.PutSession(&sess); err != nil {
		return 0, fmt.Errorf("record fd store session: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if prev := s.fdSessions[app]; prev != 0 {
		return prev, nil // a concurrent first use won; ours stays unused
	}
	s.fdSessions[app] = sess.ID
	return sess.ID, nil
}

// forgetFDEntry ends the record of an fd-store entry in state final and
// deletes it.
func (s *Supervisor) forgetFDEntry(app string, e fdEntry, final contstore.State) {
	id := contstore.ID(e.Key)
	if id == 0 {
		return
	}
	err := s.store.Transition(id, contstore.StateSuspended, final)
	if err == nil {
		err = s.store.Delete(id)
	}
	if err != nil && !errors.Is(err, contstore.ErrNotFound) {
		s.log.Warn().Err(err).Str("app", app).Stringer("cont", id).Msg("fd store record not removed")
	}
}

// dropFDEntry drops the fd-store entry recorded as continuation id, of a
// running app or a kept store: record first, then descriptor. It reports
// whether id was one.
func (s *Supervisor) dropFDEntry(id contstore.ID) bool {
	s.mu.Lock()
	stores := map[string]*fdStore{}
	for name, f := range s.keptFDStores {
		stores[name] = f
	}
	for name, a := range s.apps {
		if a.fds != nil {
			stores[name] = a.fds
		}
	}
	s.mu.Unlock()
	for app, f := range stores {
		for _, e := range f.entries() {
			if e.Key == uint64(id) {
				s.forgetFDEntry(app, e, contstore.StateDropped)
				f.removeKey(e.Key)
				s.log.Info().Str("app", app).Str("fdname", e.Name).Stringer("cont", id).Msg("fd store entry dropped")
				return true
			}
		}
	}
	return false
}
