package proto

import "fmt"

// Hello is the first message an app sends on a new connection. The
// supervisor answers with HelloReply, or with Error (CodeBadVersion,
// CodePermissionDenied when the peer is not one of its apps).
type Hello struct {
	// Version is the highest protocol version the app speaks; at least 1.
	Version uint8
	// PID is the app's process id as the app claims it, and App its name
	// (MIGRATE_APP). Both are for diagnostics only: the supervisor
	// identifies the peer by SO_PEERCRED and cgroup, never by these.
	PID uint32
	App string
	// Client names the client library and its version, e.g. "migrate-go/1".
	Client string
}

// Type returns TypeHello.
func (*Hello) Type() Type { return TypeHello }
func (*Hello) fds() int   { return 0 }

func (m *Hello) walk(c *codec) {
	num(c, 1, "version", &m.Version)
	num(c, 2, "pid", &m.PID)
	c.str(3, "app", &m.App, textName)
	c.str(4, "client", &m.Client, textName)
}

func (m *Hello) check() error {
	if m.Version == 0 {
		return fmt.Errorf("%w: version is 0", ErrInvalid)
	}
	return nil
}

// HelloReply answers Hello: who the supervisor takes the peer to be, and the
// limits it applies to it.
type HelloReply struct {
	// Version is the protocol version both sides speak on this connection.
	Version uint8
	// App is the app's name as the supervisor knows it (from the peer's
	// cgroup), and PID the peer's pid from SO_PEERCRED.
	App string
	PID uint32
	// MaxStoreBytes bounds a session's attribute/value store (keys plus
	// values); MaxValueBytes bounds one value. 0 means no limit.
	MaxStoreBytes uint64
	MaxValueBytes uint32
	// DefaultExpirySec is how long a continuation lives when ReturnCont says
	// 0; MaxExpirySec caps what ReturnCont may ask (0: no cap).
	DefaultExpirySec uint32
	MaxExpirySec     uint32
}

// Type returns TypeHelloReply.
func (*HelloReply) Type() Type { return TypeHelloReply }
func (*HelloReply) fds() int   { return 0 }

func (m *HelloReply) walk(c *codec) {
	num(c, 1, "version", &m.Version)
	c.str(2, "app", &m.App, textName)
	num(c, 3, "pid", &m.PID)
	num(c, 4, "max_store_bytes", &m.MaxStoreBytes)
	num(c, 5, "max_value_bytes", &m.MaxValueBytes)
	num(c, 6, "default_expiry_sec", &m.DefaultExpirySec)
	num(c, 7, "max_expiry_sec", &m.MaxExpirySec)
}

func (m *HelloReply) check() error {
	if m.Version == 0 {
		return fmt.Errorf("%w: version is 0", ErrInvalid)
	}
	return nil
}

// Ack is the generic success reply. What Value holds depends on the request:
// the session id for GetSession, the continuation id for ReturnCont, the
// value's size for StoreSize; 0 otherwise.
type Ack struct {
	Value uint64
}

// Type returns TypeAck.
func (*Ack) Type() Type      { return TypeAck }
func (*Ack) fds() int        { return 0 }
func (*Ack) check() error    { return nil }
func (m *Ack) walk(c *codec) { num(c, 1, "value", &m.Value) }

// Error is the failure reply: the request changed nothing. It is also a Go
// error.
type Error struct {
	// Code is what went wrong, for programs; never 0. A code the receiver
	// does not know is a generic failure.
	Code ErrorCode
	// Message says it for people.
	Message string
}

// Type returns TypeError.
func (*Error) Type() Type { return TypeError }
func (*Error) fds() int   { return 0 }

func (m *Error) walk(c *codec) {
	num(c, 1, "code", &m.Code)
	c.str(2, "message", &m.Message, textProse)
}

func (m *Error) check() error {
	if m.Code == 0 {
		return fmt.Errorf("%w: error code is 0", ErrInvalid)
	}
	return nil
}

// Error returns "code: message".
func (m *Error) Error() string {
	if m.Message == "" {
		return m.Code.String()
	}
	return m.Code.String() + ": " + m.Message
}
