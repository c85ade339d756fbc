package supervisor

import (
	"errors"
	"fmt"

	"github.com/migrate-run/migrate/fdpass"
	"github.com/migrate-run/migrate/proto"
)

// Sentinel errors. Every error the supervisor returns wraps at most one of
// them behind a verb phrase naming the operation and the object, so callers
// test with errors.Is.
var (
	// ErrUnknownSession is returned for a session id the supervisor does
	// not know (or that belongs to another app, when the peer is an app).
	ErrUnknownSession = errors.New("unknown session")
	// ErrUnknownCont is returned for a continuation id the supervisor does
	// not hold or store.
	ErrUnknownCont = errors.New("unknown continuation")
	// ErrUnknownApp is returned for an app name the supervisor does not run.
	ErrUnknownApp = errors.New("unknown app")
	// ErrAppExists is returned by StartApp for a name already in use.
	ErrAppExists = errors.New("app already exists")
	// ErrBadState is returned when the object is not in a state that allows
	// the operation: suspending a session that is not active, resuming a
	// continuation that is not suspended.
	ErrBadState = errors.New("wrong state")
	// ErrBusy is returned when a suspend or resume of the same object is
	// already in progress.
	ErrBusy = errors.New("busy")
	// ErrTimeout is returned by Suspend when the app did not answer the
	// SuspendRequest by its deadline; the session stays live.
	ErrTimeout = errors.New("timed out")
	// ErrNoProcess is returned when the process that must act is gone: the
	// connection that registered a session closed, or a fresh process exited
	// before it confirmed its resume.
	ErrNoProcess = errors.New("no process to act")
	// ErrNoAttach is returned by Resume for an internal or system
	// continuation when no running process of its app sent Attach.
	ErrNoAttach = errors.New("no attach handler")
	// ErrExpired is returned for a continuation past its expiry.
	ErrExpired = errors.New("continuation expired")
	// ErrRefused is returned when the app answered with an Error; the error
	// also wraps the *proto.Error.
	ErrRefused = errors.New("refused by the app")
	// ErrPermission is returned to a peer acting on another app's object
	// (the error names the request and the id the peer sent, never the
	// other app), and to a peer that is neither an app nor an admin.
	ErrPermission = errors.New("permission denied")
	// ErrRunning is returned by Run when another supervisor answers on the
	// control socket.
	ErrRunning = errors.New("another supervisor answers on the socket")
	// ErrParentInUse is returned by New, as a *ParentInUseError, when
	// another live supervisor runs its apps under the same cgroup parent
	// (Config.CgroupParent): nothing has been changed.
	ErrParentInUse = errors.New("cgroup parent in use by another supervisor")
	// ErrClosed is returned once the supervisor is shutting down.
	ErrClosed = errors.New("supervisor is closed")
	// ErrBadConfig is returned by New for a Config it cannot use.
	ErrBadConfig = errors.New("invalid configuration")
	// ErrBadRequest is returned for a message that decoded but breaks a rule
	// only the supervisor knows: a type the peer may not send, a reply to no
	// request, exec credentials the app could not have had.
	ErrBadRequest = errors.New("bad request")
	// ErrTooLarge is returned for a store or value beyond the limits
	// HelloReply announced.
	ErrTooLarge = errors.New("too large")
	// ErrUnknownKey is returned by store operations for a missing key.
	ErrUnknownKey = errors.New("unknown key")
)

// Sentinel errors of the notify receiver and the fd store; the supervisor
// logs them, no caller outside tests them.
var (
	// errBadNotify is wrapped by every error about a dropped sd_notify
	// datagram: text that does not parse, a truncated payload or control
	// message, no sender credentials, a barrier without its one descriptor.
	errBadNotify = errors.New("malformed notify datagram")
	// errBadFDName is returned for a descriptor name systemd would not
	// accept (fdname_is_valid): empty, longer than 255 bytes, or with a
	// byte that is not printable ASCII, or a ':'.
	errBadFDName = errors.New("bad descriptor name")
	// errFDStoreFull is returned by fdStore.add when descriptors were
	// refused because the store held its maximum (FileDescriptorStoreMax).
	errFDStoreFull = errors.New("fd store full")
	// errFDStoreClosed is returned by fdStore.add after close.
	errFDStoreClosed = errors.New("fd store closed")
)

// ParentInUseError says which supervisor holds the cgroup parent New
// wanted. It wraps ErrParentInUse.
type ParentInUseError struct {
	Parent  string // the cgroup parent, as configured
	Lock    string // the lock file both supervisors flock
	PID     int    // the holder's pid as /proc/locks reports it; 0 when unknown
	Command string // the holder's /proc/PID/comm; empty when unknown
}

func (e *ParentInUseError) Error() string {
	switch {
	case e.PID > 0 && e.Command != "":
		return fmt.Sprintf("%v, pid %d (%s)", ErrParentInUse, e.PID, e.Command)
	case e.PID > 0:
		return fmt.Sprintf("%v, pid %d", ErrParentInUse, e.PID)
	}
	return ErrParentInUse.Error()
}

// Unwrap returns ErrParentInUse.
func (e *ParentInUseError) Unwrap() error { return ErrParentInUse }

// codeOf maps an error to the protocol's error code for an Error reply.
func codeOf(err error) proto.ErrorCode {
	var pe *proto.Error
	switch {
	case errors.Is(err, ErrUnknownSession):
		return proto.CodeUnknownSession
	case errors.Is(err, ErrUnknownCont):
		return proto.CodeUnknownContinuation
	case errors.Is(err, ErrPermission):
		return proto.CodePermissionDenied
	case errors.Is(err, ErrBusy), errors.Is(err, ErrBadState), errors.Is(err, ErrAppExists):
		return proto.CodeBusy
	case errors.Is(err, ErrTimeout):
		return proto.CodeTimeout
	case errors.Is(err, ErrExpired):
		return proto.CodeExpired
	case errors.Is(err, ErrUnknownApp), errors.Is(err, ErrNoAttach), errors.Is(err, ErrNoProcess):
		return proto.CodeNotSupported
	case errors.Is(err, ErrBadRequest), errors.Is(err, ErrBadConfig):
		return proto.CodeBadMessage
	case errors.Is(err, ErrTooLarge), errors.Is(err, fdpass.ErrTooLarge):
		return proto.CodeTooLarge
	case errors.Is(err, ErrUnknownKey):
		return proto.CodeUnknownKey
	case errors.Is(err, fdpass.ErrCountMismatch), errors.Is(err, fdpass.ErrTruncated),
		errors.Is(err, fdpass.ErrTooManyFDs):
		return proto.CodeFDCountMismatch
	case errors.Is(err, fdpass.ErrNotMemfd), errors.Is(err, fdpass.ErrNotSealed):
		return proto.CodeBadMessage
	case errors.As(err, &pe):
		return pe.Code
	}
	return proto.CodeOf(err)
}

// errorReply builds the Error body that answers a failed request.
func errorReply(err error) *proto.Error {
	return &proto.Error{Code: codeOf(err), Message: err.Error()}
}
