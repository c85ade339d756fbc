package proto

import "fmt"

// Slot describes one descriptor carried by ReturnCont or AttachSession: the
// record's descriptor at the slot's index.
type Slot struct {
	// FD is the descriptor's number in the process that suspended. A fresh
	// process started from a complete continuation gets the descriptor at
	// this same number; an attached process gets it at whatever number its
	// receive returned, and uses FD and Name to tell slots apart. Required.
	FD int32
	// Name is an optional label, e.g. "client" or "x11-1".
	Name string
	// Role says what the descriptor is to the session.
	Role Role
	// Conn marks the session's own connection: at most one slot has it. In
	// a fresh process, MIGRATE_CONT names its number.
	Conn bool
}

func (s *Slot) walk(c *codec) {
	required(c, 1, "fd", &s.FD)
	c.str(2, "name", &s.Name, textName)
	num(c, 3, "role", &s.Role)
	c.flag(4, "conn", &s.Conn)
}

func checkSlots(slots []Slot) error {
	if len(slots) > MaxFDs {
		return fmt.Errorf("%w: %d slots > %d", ErrInvalid, len(slots), MaxFDs)
	}
	conn := -1
	for i, s := range slots {
		switch {
		case s.FD < 0:
			return fmt.Errorf("%w: slots[%d] has fd %d", ErrInvalid, i, s.FD)
		case !s.Role.Valid():
			return fmt.Errorf("%w: slots[%d] has role %v", ErrInvalid, i, s.Role)
		case s.Conn && conn >= 0:
			return fmt.Errorf("%w: slots[%d] and [%d] are both the session's connection", ErrInvalid, conn, i)
		case s.Conn:
			conn = i
		}
	}
	if i, j, dup := firstDup(len(slots), func(i int) int32 { return slots[i].FD }); dup {
		return fmt.Errorf("%w: slots[%d] and [%d] are both fd %d", ErrInvalid, i, j, slots[i].FD)
	}
	return nil
}

// Entry is one attribute of a session's attribute/value store.
type Entry struct {
	// Key is non-empty and unique in its store.
	Key   string
	Value []byte
	// Exported marks a value the session control protocol may send to the
	// remote end point on reconnection (the paper's export).
	Exported bool
}

func (e *Entry) walk(c *codec) {
	c.str(1, "key", &e.Key, textName)
	c.bytes(2, "value", &e.Value)
	c.flag(3, "exported", &e.Exported)
}

func checkEntries(es []Entry) error {
	for i, e := range es {
		if e.Key == "" {
			return fmt.Errorf("%w: store[%d] has an empty key", ErrInvalid, i)
		}
	}
	if i, j, dup := firstDup(len(es), func(i int) string { return es[i].Key }); dup {
		return fmt.Errorf("%w: store[%d] and [%d] both have key %q", ErrInvalid, i, j, es[i].Key)
	}
	return nil
}

// CompatTag is one <id, name, value> compatibility tag (the paper's
// register_compat_vector and compat_store): a property the environment that
// resumes a session must match.
type CompatTag struct {
	// ID identifies the property; unique in its vector.
	ID uint32
	// Name names it for people, e.g. "libssl".
	Name string
	// Value is what it must be, e.g. "3.0".
	Value string
}

func (t *CompatTag) walk(c *codec) {
	required(c, 1, "id", &t.ID)
	c.str(2, "name", &t.Name, textName)
	c.str(3, "value", &t.Value, textProse)
}

func checkTags(ts []CompatTag) error {
	if i, j, dup := firstDup(len(ts), func(i int) uint32 { return ts[i].ID }); dup {
		return fmt.Errorf("%w: compat[%d] and [%d] both have id %d", ErrInvalid, i, j, ts[i].ID)
	}
	return nil
}
