package proto

import "fmt"

// GetSession registers a connection of the app as a session (the paper's
// get_session and register_handler). It carries one descriptor, index 0: a
// duplicate of the connection socket, owned by the supervisor once it
// arrives; the app keeps its own. The supervisor answers with Ack whose Value
// is the session id.
type GetSession struct {
	// FD is the app's own descriptor number for the connection (its copy
	// stays open in the app). Required: 0 is a valid descriptor.
	FD int32
	// Name is an optional label for people (migratectl list).
	Name string
	// DependsOn lists sessions this one depends on: suspending any of them
	// suspends this one too (never the other way round).
	DependsOn []uint64
	// Handler is the continuation the app's suspend handler produces, or
	// KindNone when the app registered no handler (then the supervisor can
	// only ever hold the session's descriptors).
	Handler Kind
	// Cont is set by a resumed process registering the connection it
	// inherited (MIGRATE_CONT): the continuation (MIGRATE_CONT_ID) whose
	// session it continues. 0 for a new session.
	Cont uint64
}

// Type returns TypeGetSession.
func (*GetSession) Type() Type { return TypeGetSession }
func (*GetSession) fds() int   { return 1 }

func (m *GetSession) walk(c *codec) {
	required(c, 1, "fd", &m.FD)
	c.str(2, "name", &m.Name, textName)
	nums(c, 3, "depends_on", &m.DependsOn, MaxItems)
	num(c, 4, "handler", &m.Handler)
	num(c, 5, "cont", &m.Cont)
}

func (m *GetSession) check() error {
	switch {
	case m.FD < 0:
		return fmt.Errorf("%w: fd %d", ErrInvalid, m.FD)
	case !m.Handler.Valid():
		return fmt.Errorf("%w: handler kind %v", ErrInvalid, m.Handler)
	}
	for i, s := range m.DependsOn {
		if s == 0 {
			return fmt.Errorf("%w: depends_on[%d] is session 0", ErrInvalid, i)
		}
	}
	if i, j, dup := firstDup(len(m.DependsOn), func(i int) uint64 { return m.DependsOn[i] }); dup {
		return fmt.Errorf("%w: depends_on[%d] and [%d] are both session %d", ErrInvalid, i, j, m.DependsOn[i])
	}
	return nil
}

// SessionClose ends a session (the paper's session_close): the supervisor
// forgets it and drops what it holds for it. Answered with Ack.
type SessionClose struct {
	Session uint64
}

// Type returns TypeSessionClose.
func (*SessionClose) Type() Type      { return TypeSessionClose }
func (*SessionClose) fds() int        { return 0 }
func (m *SessionClose) walk(c *codec) { num(c, 1, "session", &m.Session) }
func (m *SessionClose) check() error  { return nonZero("session", m.Session) }

// SuspendRequest asks the app to reach its quiescent point and return a
// continuation for a session. The app answers with ReturnCont (whose Request
// is this message's ID) within the deadline, or with Error (e.g. CodeBusy)
// to refuse; either way it keeps the session until the supervisor acks a
// ReturnCont.
type SuspendRequest struct {
	Session uint64
	Reason  Reason
	// DeadlineMS is how long the app has, in milliseconds from receipt;
	// never 0. A ReturnCont after it gets Error CodeTimeout and the app
	// keeps its session.
	DeadlineMS uint32
	// Detail says more, for people.
	Detail string
}

// Type returns TypeSuspendRequest.
func (*SuspendRequest) Type() Type { return TypeSuspendRequest }
func (*SuspendRequest) fds() int   { return 0 }

func (m *SuspendRequest) walk(c *codec) {
	num(c, 1, "session", &m.Session)
	num(c, 2, "reason", &m.Reason)
	num(c, 3, "deadline_ms", &m.DeadlineMS)
	c.str(4, "detail", &m.Detail, textProse)
}

func (m *SuspendRequest) check() error {
	switch {
	case !m.Reason.Valid():
		return fmt.Errorf("%w: reason %v", ErrInvalid, m.Reason)
	case m.DeadlineMS == 0:
		return fmt.Errorf("%w: deadline is 0", ErrInvalid)
	}
	return nonZero("session", m.Session)
}

func nonZero(field string, v uint64) error {
	if v == 0 {
		return fmt.Errorf("%w: %s is 0", ErrInvalid, field)
	}
	return nil
}
