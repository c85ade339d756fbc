package supervisor

import (
	"fmt"
	"unique"

	"github.com/migrate-run/migrate/contstore"
	"github.com/migrate-run/migrate/fdpass"
	"github.com/migrate-run/migrate/proto"
)

// sessionState is where a live session is. A suspended session has a held
// continuation (session.cont).
type sessionState string

const (
	sessionActive     sessionState = "active"
	sessionSuspending sessionState = "suspending"
	sessionSuspended  sessionState = "suspended"
)

// session is a registered session. Its fields are guarded by s.mu.
type session struct {
	id      contstore.SessionID
	app     *App
	name    string
	handler proto.Kind
	deps    []contstore.SessionID
	desc    fdpass.Description
	state   sessionState
	// conn is the connection that registered the session, the one a
	// SuspendRequest goes to; nil once it closed. pid is its peer.
	conn *conn
	pid  int
	// fd is the app's number for the connection; dup is the supervisor's
	// duplicate of it (GetSession's descriptor), held while the session is
	// registered and not suspended (see releaseDup), -1 otherwise.
	fd  int32
	dup int
	// store is the live session's attribute/value store; nil until its
	// first entry (an empty map would cost every held session 48 bytes).
	store map[string]proto.Entry
	// cont is the continuation holding the session while suspended.
	cont contstore.ID
	// pending is the suspend in progress.
	pending *pendingSuspend
}

// getSession registers a connection (GetSession). With Cont set, a resumed
// process re-registers the connection it inherited: the session keeps its id.
func (s *Supervisor) getSession(c *conn, m *proto.GetSession, fd int) (contstore.SessionID, error) {
	desc, err := fdpass.Describe(fd)
	if err != nil {
		return 0, fmt.Errorf("describe session connection: %w", err)
	}
	desc.Local = unique.Make(desc.Local).Value() // a server's sessions share their local address
	if m.Cont != 0 {
		return s.reattachSession(c, m, fd, desc)
	}
	deps := make([]contstore.SessionID, len(m.DependsOn))
	s.mu.Lock()
	for i, d := range m.DependsOn {
		deps[i] = contstore.SessionID(d)
		if dep := s.sessions[deps[i]]; dep == nil || dep.app != c.app {
			s.mu.Unlock()
			return 0, fmt.Errorf("register session depending on %d: %w", d, ErrUnknownSession)
		}
	}
	s.mu.Unlock()
	rec := contstore.Session{App: c.app.name, State: contstore.SessionActive, Conn: desc, DependsOn: deps}
	if err := s.store.PutSession(&rec); err != nil {
		return 0, fmt.Errorf("register session: %w", err)
	}
	sess := &session{id: rec.ID, app: c.app, name: m.Name, handler: m.Handler, deps: deps, desc: desc,
		state: sessionActive, conn: c, pid: int(c.cred.Pid), fd: m.FD, dup: fd}
	s.mu.Lock()
	s.sessions[sess.id] = sess
	s.mu.Unlock()
	c.log.Info().Stringer("session", sess.id).Int32("fd", m.FD).Str("peer", desc.Peer).Msg("session registered")
	return sess.id, nil
}

// reattachSession is GetSession{Cont} from a resumed process: the session
// of a continuation being resumed takes the new connection.
func (s *Supervisor) reattachSession(c *conn, m *proto.GetSession, fd int, desc fdpass.Description) (contstore.SessionID, error) {
	id := contstore.ID(m.Cont)
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.held[id]
	switch {
	case h == nil:
		return 0, fmt.Errorf("re-register session of continuation %v: %w", id, ErrUnknownCont)
	case h.app != c.app:
		return 0, c.denied(fmt.Sprintf("re-register session of continuation %v", id), h.app.name)
	case h.state != contstore.StateResuming:
		return 0, fmt.Errorf("re-register session of continuation %v in state %s: %w", id, h.state, ErrBadState)
	}
	sess := h.sess
	if sess == nil { // recovered from an earlier run
		sess = &session{id: h.rec.Session, app: c.app, handler: m.Handler, deps: h.rec.DependsOn,
			state: sessionSuspended, cont: id, dup: -1}
		h.sess = sess
		s.sessions[sess.id] = sess
	}
	sess.releaseDup()
	sess.conn, sess.pid, sess.fd, sess.dup, sess.desc = c, int(c.cred.Pid), m.FD, fd, desc
	if m.Name != "" {
		sess.name = m.Name
	}
	sess.handler = m.Handler
	c.log.Info().Stringer("session", sess.id).Stringer("cont", id).Msg("session re-registered")
	return sess.id, nil
}

// releaseDup closes the supervisor's duplicate of the session's connection,
// if it still has one. A suspend releases it as soon as the continuation is
// committed: the held descriptors are the session's reference from then on,
// so a held session costs the supervisor one descriptor, not two. The
// caller holds s.mu.
func (sess *session) releaseDup() {
	if sess.dup >= 0 {
		closeFDs([]int{sess.dup})
		sess.dup = -1
	}
}

// closeSession ends a session (SessionClose): its duplicate is closed and
// its record marked closed. A suspended session cannot be closed; drop its
// continuation instead.
func (s *Supervisor) closeSession(c *conn, id contstore.SessionID) error {
	s.mu.Lock()
	sess, err := s.ownSession(c, id)
	if err == nil && sess.state != sessionActive {
		err = fmt.Errorf("close session %v in state %s: %w", id, sess.state, ErrBadState)
	}
	if err != nil {
		s.mu.Unlock()
		return err
	}
	delete(s.sessions, id)
	closeFDs([]int{sess.dup})
	sess.dup = -1
	s.mu.Unlock()
	s.markSession(sess, contstore.SessionClosed)
	c.log.Info().Stringer("session", id).Msg("session closed")
	return nil
}

// ownSession returns the session id if it belongs to c's app (any session
// for an admin). The caller holds s.mu.
func (s *Supervisor) ownSession(c *conn, id contstore.SessionID) (*session, error) {
	sess := s.sessions[id]
	switch {
	case sess == nil:
		return nil, fmt.Errorf("find session %v: %w", id, ErrUnknownSession)
	case c != nil && !c.admin && sess.app != c.app:
		return nil, c.denied(fmt.Sprintf("act on session %v", id), sess.app.name)
	}
	return sess, nil
}

// markSession records a session's state in the store, logging a failure:
// the in-memory table is the truth for live sessions.
func (s *Supervisor) markSession(sess *session, st contstore.SessionState) {
	rec, err := s.store.GetSession(sess.id)
	if err == nil {
		rec.State = st
		err = s.store.PutSession(&rec)
	}
	if err != nil {
		s.log.Warn().Err(err).Stringer("session", sess.id).Msg("session state not recorded")
	}
}

// dependents returns the sessions that depend on id directly. The caller
// holds s.mu.
func (s *Supervisor) dependents(id contstore.SessionID) []*session {
	var out []*session
	for _, sess := range s.sessions {
		for _, d := range sess.deps {
			if d == id {
				out = append(out, sess)
				break
			}
		}
	}
	return out
}

// closeSessionsOf forgets every session of app a (the app stopped) and
// closes their duplicates. The caller holds s.mu.
func (s *Supervisor) closeSessionsOf(a *App) []*session {
	var out []*session
	for id, sess := range s.sessions {
		if sess.app == a {
			delete(s.sessions, id)
			closeFDs([]int{sess.dup})
			sess.dup = -1
			out = append(out, sess)
		}
	}
	return out
}
