package proto

import "fmt"

// Attach registers the connection's process as the app's attach handler (the
// paper's register_attach_handler): the supervisor resumes internal
// continuations by sending AttachSession on this connection. The
// registration lasts as long as the connection. Answered with Ack. It has no
// fields in this version.
type Attach struct{}

// Type returns TypeAttach.
func (*Attach) Type() Type   { return TypeAttach }
func (*Attach) fds() int     { return 0 }
func (*Attach) check() error { return nil }
func (*Attach) walk(*codec)  {}

// AttachSession delivers a resumed session to a running process that sent
// Attach. Descriptor i of the record is Slots[i], owned by the app once it
// arrives. The app answers with Ack once it has taken the session over (the
// supervisor then releases what it held), or with Error to refuse (the
// supervisor keeps the continuation and closes nothing).
type AttachSession struct {
	Cont    uint64
	Session uint64
	// Kind is internal or system.
	Kind Kind
	// PID is the process that suspended the session (as MIGRATE_PID).
	PID uint32
	// Name is the session's label from GetSession.
	Name  string
	Slots []Slot
	Store []Entry
}

// Type returns TypeAttachSession.
func (*AttachSession) Type() Type { return TypeAttachSession }
func (m *AttachSession) fds() int { return len(m.Slots) }

func (m *AttachSession) walk(c *codec) {
	num(c, 1, "cont", &m.Cont)
	num(c, 2, "session", &m.Session)
	num(c, 3, "kind", &m.Kind)
	num(c, 4, "pid", &m.PID)
	c.str(5, "name", &m.Name, textName)
	structs(c, 6, "slots", &m.Slots, MaxFDs)
	structs(c, 7, "store", &m.Store, MaxItems)
}

func (m *AttachSession) check() error {
	switch {
	case m.Cont == 0:
		return fmt.Errorf("%w: cont is 0", ErrInvalid)
	case m.Session == 0:
		return fmt.Errorf("%w: session is 0", ErrInvalid)
	case m.Kind != KindInternal && m.Kind != KindSystem:
		return fmt.Errorf("%w: kind %v cannot attach", ErrInvalid, m.Kind)
	}
	if err := checkSlots(m.Slots); err != nil {
		return err
	}
	return checkEntries(m.Store)
}

// Resumed tells the supervisor that a fresh process started from a complete
// continuation has taken it over: the supervisor then closes the
// descriptors it held for it and drops the continuation. Send it after
// retrieving the store. Answered with Ack. (An attached process confirms by
// answering AttachSession with Ack instead.)
type Resumed struct {
	Cont uint64
}

// Type returns TypeResumed.
func (*Resumed) Type() Type      { return TypeResumed }
func (*Resumed) fds() int        { return 0 }
func (m *Resumed) check() error  { return nonZero("cont", m.Cont) }
func (m *Resumed) walk(c *codec) { num(c, 1, "cont", &m.Cont) }
