package proto

import "fmt"

// Scope names the store an attribute/value operation acts on: a live
// session's, or a continuation's (a resumed process uses MIGRATE_CONT_ID).
// Exactly one of the two is set, and the supervisor checks that the peer
// owns it.
type Scope struct {
	Session uint64
	Cont    uint64
}

func walkScope(c *codec, s *Scope) {
	num(c, 1, "session", &s.Session)
	num(c, 2, "cont", &s.Cont)
}

func checkScope(s Scope, key string) error {
	switch {
	case (s.Session == 0) == (s.Cont == 0):
		return fmt.Errorf("%w: want exactly one of session (%d) and cont (%d)", ErrInvalid, s.Session, s.Cont)
	case key == "":
		return fmt.Errorf("%w: empty key", ErrInvalid)
	}
	return nil
}

// Store sets Key to Value in a store (the paper's store), replacing any old
// value and keeping its exported mark. Answered with Ack, or Error
// CodeTooLarge beyond HelloReply's limits.
type Store struct {
	Scope
	Key   string
	Value []byte
}

// Type returns TypeStore.
func (*Store) Type() Type     { return TypeStore }
func (*Store) fds() int       { return 0 }
func (m *Store) check() error { return checkScope(m.Scope, m.Key) }

func (m *Store) walk(c *codec) {
	walkScope(c, &m.Scope)
	c.str(3, "key", &m.Key, textName)
	c.bytes(4, "value", &m.Value)
}

// Retrieve reads Key from a store (the paper's retrieve). Answered with
// RetrieveReply, or Error CodeUnknownKey.
type Retrieve struct {
	Scope
	Key string
}

// Type returns TypeRetrieve.
func (*Retrieve) Type() Type     { return TypeRetrieve }
func (*Retrieve) fds() int       { return 0 }
func (m *Retrieve) check() error { return checkScope(m.Scope, m.Key) }

func (m *Retrieve) walk(c *codec) {
	walkScope(c, &m.Scope)
	c.str(3, "key", &m.Key, textName)
}

// RetrieveReply answers Retrieve. A value too large for a record travels
// with its payload in a memfd.
type RetrieveReply struct {
	Value    []byte
	Exported bool
}

// Type returns TypeRetrieveReply.
func (*RetrieveReply) Type() Type   { return TypeRetrieveReply }
func (*RetrieveReply) fds() int     { return 0 }
func (*RetrieveReply) check() error { return nil }

func (m *RetrieveReply) walk(c *codec) {
	c.bytes(1, "value", &m.Value)
	c.flag(2, "exported", &m.Exported)
}

// StoreSize asks for the size of Key's value (the paper's store_size).
// Answered with Ack whose Value is the size in bytes, or Error
// CodeUnknownKey.
type StoreSize struct {
	Scope
	Key string
}

// Type returns TypeStoreSize.
func (*StoreSize) Type() Type     { return TypeStoreSize }
func (*StoreSize) fds() int       { return 0 }
func (m *StoreSize) check() error { return checkScope(m.Scope, m.Key) }

func (m *StoreSize) walk(c *codec) {
	walkScope(c, &m.Scope)
	c.str(3, "key", &m.Key, textName)
}

// Export marks Key as exported (the paper's export): its value may be sent to
// the remote end point on reconnection. Answered with Ack, or Error
// CodeUnknownKey.
type Export struct {
	Scope
	Key string
}

// Type returns TypeExport.
func (*Export) Type() Type     { return TypeExport }
func (*Export) fds() int       { return 0 }
func (m *Export) check() error { return checkScope(m.Scope, m.Key) }

func (m *Export) walk(c *codec) {
	walkScope(c, &m.Scope)
	c.str(3, "key", &m.Key, textName)
}
