package proto

import "fmt"

// Kind is a continuation's kind (the paper's three layers).
type Kind uint8

const (
	// KindNone: no continuation; in GetSession, the app registered no
	// suspend handler.
	KindNone Kind = 0
	// KindSystem (C_sys): only descriptors; the app's code resumes where it
	// was.
	KindSystem Kind = 1
	// KindInternal (C_int): resumed inside a still-running process through
	// its attach handler.
	KindInternal Kind = 2
	// KindComplete (C_comp): resumed by a fresh process started from the
	// continuation's exec description.
	KindComplete Kind = 3
)

var kindNames = []string{"none", "system", "internal", "complete"}

func (k Kind) String() string { return enumString(kindNames, k) }

// Valid reports whether k is one of the kinds above.
func (k Kind) Valid() bool { return int(k) < len(kindNames) }

// Role says what a carried descriptor is to the session.
type Role uint8

// The roles a descriptor can play.
const (
	RoleConn     Role = 1 // a connection of the session (one is the session's own, Slot.Conn)
	RoleListener Role = 2 // a listening socket
	RolePTY      Role = 3 // a pseudo-terminal, either side
	RoleFile     Role = 4 // a file, directory or device
	RolePipe     Role = 5 // a pipe or FIFO
	RoleOther    Role = 6 // anything else
)

var roleNames = []string{"", "conn", "listener", "pty", "file", "pipe", "other"}

func (r Role) String() string { return enumString(roleNames, r) }

// Valid reports whether r is one of the roles above (0 is not).
func (r Role) Valid() bool { return r != 0 && int(r) < len(roleNames) }

// Reason says why the supervisor asks for a suspend.
type Reason uint8

// The reasons for a SuspendRequest.
const (
	ReasonOperator     Reason = 1 // an operator asked (migratectl suspend)
	ReasonDisconnected Reason = 2 // the session's peer is gone
	ReasonDependency   Reason = 3 // a session this one depends on is suspending
	ReasonUpgrade      Reason = 4 // the app is being replaced by a new version
	ReasonShutdown     Reason = 5 // the supervisor or the app's service is stopping
	ReasonReclaim      Reason = 6 // the supervisor wants the session's resources back (the paper's freeze)
)

var reasonNames = []string{"", "operator", "disconnected", "dependency", "upgrade", "shutdown", "reclaim"}

func (r Reason) String() string { return enumString(reasonNames, r) }

// Valid reports whether r is one of the reasons above (0 is not).
func (r Reason) Valid() bool { return r != 0 && int(r) < len(reasonNames) }

// ErrorCode is the machine-readable part of an Error. Receivers treat a code
// they do not know as a generic failure, so new codes may be added without a
// version change.
type ErrorCode uint16

// The error codes of protocol version 1.
const (
	CodeBadMessage          ErrorCode = 1  // the message is malformed (framing, fields or rules)
	CodeBadVersion          ErrorCode = 2  // the header's version is not spoken here
	CodeFDCountMismatch     ErrorCode = 3  // the descriptors that arrived differ from the declared count, or MSG_CTRUNC
	CodeUnknownSession      ErrorCode = 4  // no such session (for this app)
	CodeUnknownContinuation ErrorCode = 5  // no such continuation (for this app)
	CodeUnknownKey          ErrorCode = 6  // no such key in the store
	CodeExpired             ErrorCode = 7  // the continuation expired
	CodePermissionDenied    ErrorCode = 8  // the peer may not act on that object (another app's)
	CodeTooLarge            ErrorCode = 9  // a message, value or store exceeds a limit
	CodeBusy                ErrorCode = 10 // the target is busy (a suspend is already in progress, ...)
	CodeTimeout             ErrorCode = 11 // a deadline passed (a SuspendRequest was not answered in time)
	CodeInternal            ErrorCode = 12 // the receiver failed (storage, ...); the request changed nothing
	CodeCompatMismatch      ErrorCode = 13 // compat tags do not match the registry
	CodeNotSupported        ErrorCode = 14 // unknown message type or critical field, or an unsupported request
)

var codeNames = []string{
	"", "bad-message", "bad-version", "fd-count-mismatch", "unknown-session",
	"unknown-continuation", "unknown-key", "expired", "permission-denied",
	"too-large", "busy", "timeout", "internal", "compat-mismatch", "not-supported",
}

func (c ErrorCode) String() string { return enumString(codeNames, c) }

func enumString[T ~uint8 | ~uint16](names []string, v T) string {
	if int(v) < len(names) && names[v] != "" {
		return names[v]
	}
	return fmt.Sprintf("%d", v)
}
