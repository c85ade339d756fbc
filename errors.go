package migrate

import (
	"errors"
	"fmt"

	"github.com/migrate-run/migrate/proto"
)

// Sentinel errors. Every error this package returns wraps one of them (or
// a *SupervisorError, which unwraps to ErrRefused) with a verb phrase
// saying what failed, so callers test with errors.Is.
var (
	// ErrNoSupervisor is returned when MIGRATE_SOCKET is not set: the
	// process does not run under a supervisor.
	ErrNoSupervisor = errors.New("no supervisor (MIGRATE_SOCKET is not set)")

	// ErrClosed is returned by calls on a Client after Close, and by calls
	// that were waiting for a reply when the connection to the supervisor
	// was lost. The connection's own error, if any, is wrapped too.
	ErrClosed = errors.New("connection to the supervisor closed")

	// ErrRefused is what every *SupervisorError unwraps to: the supervisor
	// answered the request with Error, and the request changed nothing.
	ErrRefused = errors.New("refused by the supervisor")

	// ErrProtocol is returned when the supervisor breaks the protocol: a
	// reply of the wrong type, or a record that does not decode.
	ErrProtocol = errors.New("protocol violation by the supervisor")

	// ErrInvalid is returned for a bad argument, before anything is sent: an
	// empty key, a continuation without a kind, a nil connection, ...
	ErrInvalid = errors.New("invalid argument")

	// ErrSessionOver is returned by calls on a Session that was closed or
	// whose continuation the supervisor acknowledged: this process no
	// longer has it.
	ErrSessionOver = errors.New("session no longer in this process")

	// ErrAnswered is returned by SuspendRequest.Return and Refuse when the
	// request was already answered.
	ErrAnswered = errors.New("suspend request already answered")

	// ErrDeadline is returned by SuspendRequest.Return after the request's
	// deadline: the supervisor has given up waiting, so nothing is sent and
	// the app keeps its session.
	ErrDeadline = errors.New("suspend deadline passed")

	// ErrOutcomeUnknown is returned by ReturnCont when its context ended
	// before the supervisor answered: the continuation may or may not have
	// been committed. The app still has its descriptors.
	ErrOutcomeUnknown = errors.New("outcome unknown")

	// ErrNotResumed is returned by calls that need a resumed process
	// (MIGRATE_CONT set) in one that is not.
	ErrNotResumed = errors.New("not a resumed process")

	// ErrBadEnv is returned by Resumed when MIGRATE_CONT, MIGRATE_PID or
	// MIGRATE_CONT_ID is malformed or missing, or MIGRATE_CONT names no
	// open socket.
	ErrBadEnv = errors.New("malformed migrate environment")
)

// SupervisorError is the supervisor's Error reply to one of the app's
// requests: the request changed nothing. Code says what went wrong, for
// programs (proto.CodeTimeout for a ReturnCont after the deadline,
// proto.CodeUnknownKey for a missing key, ...). It unwraps to ErrRefused.
type SupervisorError struct {
	// Op is the request that was refused, e.g. "store" or "return continuation".
	Op string
	// Code is the supervisor's error code; a code this package does not
	// know is a generic failure.
	Code proto.ErrorCode
	// Message is the supervisor's explanation, for people.
	Message string
}

func (e *SupervisorError) Error() string {
	return fmt.Sprintf("%s: %v: %s: %s", e.Op, ErrRefused, e.Code, e.Message)
}

// Unwrap returns ErrRefused.
func (e *SupervisorError) Unwrap() error { return ErrRefused }

// HasCode reports whether err is (or wraps) a *SupervisorError with code.
func HasCode(err error, code proto.ErrorCode) bool {
	var se *SupervisorError
	return errors.As(err, &se) && se.Code == code
}
