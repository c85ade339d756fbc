package proto

import "fmt"

// ReturnCont hands the supervisor a continuation for a session (the paper's
// return_cont and compat_store), either answering a SuspendRequest or on the
// app's own initiative. Descriptor i of the record is Slots[i]; they are
// duplicates, owned by the supervisor once they arrive. The supervisor
// answers with Ack, whose Value is the continuation id, only after the
// continuation is committed to disk; until then the app still owns its
// session and must keep its own copies. On Error nothing was stored.
type ReturnCont struct {
	Session uint64
	// Request is the id of the SuspendRequest this answers, or 0 when the
	// app suspends on its own.
	Request uint64
	// Kind is system, internal or complete (never none).
	Kind Kind
	// Slots describe the carried descriptors, in record order.
	Slots []Slot
	// Store is the session's attribute/value store, in full.
	Store []Entry
	// Compat is the continuation's compatibility vector (compat_store).
	Compat []CompatTag
	// ExpirySec is how long the continuation should live, in seconds; 0
	// takes the supervisor's default (HelloReply.DefaultExpirySec).
	ExpirySec uint32
	// Exec is how to start the fresh process: required for KindComplete,
	// absent otherwise.
	Exec *Exec
}

// Type returns TypeReturnCont.
func (*ReturnCont) Type() Type { return TypeReturnCont }
func (m *ReturnCont) fds() int { return len(m.Slots) }

func (m *ReturnCont) walk(c *codec) {
	num(c, 1, "session", &m.Session)
	num(c, 2, "request", &m.Request)
	num(c, 3, "kind", &m.Kind)
	structs(c, 4, "slots", &m.Slots, MaxFDs)
	structs(c, 5, "store", &m.Store, MaxItems)
	structs(c, 6, "compat", &m.Compat, MaxItems)
	num(c, 7, "expiry_sec", &m.ExpirySec)
	optional(c, 8, "exec", &m.Exec)
}

func (m *ReturnCont) check() error {
	switch {
	case m.Session == 0:
		return fmt.Errorf("%w: session is 0", ErrInvalid)
	case m.Request != 0 && !FromSupervisor(m.Request):
		return fmt.Errorf("%w: request %#x is not a supervisor id", ErrInvalid, m.Request)
	case m.Kind == KindNone || !m.Kind.Valid():
		return fmt.Errorf("%w: kind %v", ErrInvalid, m.Kind)
	case m.Kind == KindComplete && m.Exec == nil:
		return fmt.Errorf("%w: complete continuation without exec", ErrInvalid)
	case m.Kind != KindComplete && m.Exec != nil:
		return fmt.Errorf("%w: %v continuation with exec", ErrInvalid, m.Kind)
	}
	if err := checkSlots(m.Slots); err != nil {
		return err
	}
	if err := checkEntries(m.Store); err != nil {
		return err
	}
	if err := checkTags(m.Compat); err != nil {
		return err
	}
	if m.Exec != nil {
		return m.Exec.check()
	}
	return nil
}
