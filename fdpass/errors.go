package fdpass

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every error fdpass returns wraps one of them (or a
// syscall error) with a verb phrase saying what failed, so callers test
// with errors.Is.
var (
	// ErrInvalid is returned for a caller's mistake that no peer caused: a
	// nil connection or count function, a limit outside [0, MaxFDs], a
	// negative size.
	ErrInvalid = errors.New("invalid argument")

	// ErrTooManyFDs is returned by Send when asked to send more than MaxFDs
	// descriptors (before any syscall), and by Recv when more descriptors
	// arrived than the caller allowed.
	ErrTooManyFDs = errors.New("too many descriptors")

	// ErrEmptyPayload is returned by Send for a zero-length payload: on a
	// SOCK_SEQPACKET socket an empty record reads as end of stream.
	ErrEmptyPayload = errors.New("empty payload")

	// ErrTruncated is returned by Recv when the kernel cut the message: the
	// payload was larger than the buffer (MSG_TRUNC) or the descriptors did
	// not fit the control buffer (MSG_CTRUNC).
	ErrTruncated = errors.New("message truncated")

	// ErrBadControl is returned by Recv when the control data cannot be
	// parsed. The kernel writes it, so this means a kernel/ABI surprise.
	ErrBadControl = errors.New("malformed control message")

	// ErrBadPayload is returned by Recv when the caller's count function
	// rejected the payload; the function's own error is wrapped too.
	ErrBadPayload = errors.New("payload rejected")

	// ErrCountMismatch is returned by Recv when the payload declares a
	// different number of descriptors than arrived. The error is a
	// *CountError carrying both numbers.
	ErrCountMismatch = errors.New("descriptor count mismatch")

	// ErrClosed is returned by Recv when the peer closed the connection (a
	// zero-length read with no descriptors).
	ErrClosed = errors.New("peer closed the connection")

	// ErrBadFD is returned when a descriptor is not open (EBADF).
	ErrBadFD = errors.New("bad file descriptor")

	// ErrProc is returned when /proc/self/fdinfo does not read as the kernel
	// documents it (no decimal "pos:" line).
	ErrProc = errors.New("unexpected /proc content")

	// ErrBadSlot is returned by Collapse for an input it cannot plan: a
	// negative or repeated number or descriptor, or a Description that does
	// not match its descriptor.
	ErrBadSlot = errors.New("bad slot")

	// ErrNotMemfd is returned by ReadSealedMemfd for a descriptor that is not
	// a memfd.
	ErrNotMemfd = errors.New("not a memfd")

	// ErrNotSealed is returned by ReadSealedMemfd for a memfd whose sender
	// could still change it (a seal is missing).
	ErrNotSealed = errors.New("memfd not sealed")

	// ErrTooLarge is returned by ReadSealedMemfd when the memfd holds more
	// than the caller's limit.
	ErrTooLarge = errors.New("memfd too large")
)

// CountError is returned by Recv when the payload declared one number of
// descriptors and another arrived. Every descriptor that arrived has been
// closed. It unwraps to ErrCountMismatch.
type CountError struct {
	Declared int // what the payload says
	Received int // what the kernel delivered
}

func (e *CountError) Error() string {
	return fmt.Sprintf("%v: payload declares %d, %d arrived", ErrCountMismatch, e.Declared, e.Received)
}

// Unwrap returns ErrCountMismatch.
func (e *CountError) Unwrap() error { return ErrCountMismatch }
