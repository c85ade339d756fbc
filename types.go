package migrate

import "github.com/migrate-run/migrate/proto"

// Kind is a continuation's kind, the paper's three layers.
type Kind = proto.Kind

// The kinds a continuation (and a session's suspend handler) can have.
const (
	// None: the session has no suspend handler (GetSession's default); the
	// supervisor can only hold its descriptors.
	None Kind = proto.KindNone
	// System (C_sys): only descriptors; the app's code resumes where it was.
	System Kind = proto.KindSystem
	// Internal (C_int): resumed inside a running process of the app through
	// its attach handler (OnAttach).
	Internal Kind = proto.KindInternal
	// Complete (C_comp): resumed by a fresh process started from the
	// continuation's Exec; see Resumed.
	Complete Kind = proto.KindComplete
)

// Role says what a carried descriptor is to the session.
type Role = proto.Role

// The roles of a carried descriptor.
const (
	RoleConn     Role = proto.RoleConn     // a connection (File.Session marks the session's own)
	RoleListener Role = proto.RoleListener // a listening socket
	RolePTY      Role = proto.RolePTY      // a pseudo-terminal, either side
	RoleFile     Role = proto.RoleFile     // a file, directory or device
	RolePipe     Role = proto.RolePipe     // a pipe or FIFO
	RoleOther    Role = proto.RoleOther    // anything else
)

// Reason says why the supervisor asks for a suspend (proto.ReasonOperator,
// proto.ReasonDisconnected, proto.ReasonDependency, ...).
type Reason = proto.Reason

// Entry is one attribute of a session's attribute/value store: a non-empty
// key (at most 255 bytes), its value, and whether it is exported.
type Entry = proto.Entry

// CompatTag is one <id, name, value> compatibility tag: a property the
// environment that resumes a session must match (the paper's compat_store
// and register_compat_vector).
type CompatTag = proto.CompatTag

// Limits are what the supervisor told this client in its HelloReply.
type Limits struct {
	// App is the app's name as the supervisor knows it, and PID this
	// process's pid as the kernel told the supervisor.
	App string
	PID int
	// MaxStoreBytes bounds a session's store (keys plus values) and
	// MaxValueBytes one value; 0 means no limit.
	MaxStoreBytes uint64
	MaxValueBytes uint32
	// DefaultExpirySec is a continuation's lifetime when it asks for none;
	// MaxExpirySec caps what it may ask (0: no cap).
	DefaultExpirySec uint32
	MaxExpirySec     uint32
}
