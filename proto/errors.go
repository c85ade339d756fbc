package proto

import (
	"errors"
	"fmt"
)

// Framing errors: DecodeHeader, DeclaredFDs, Decode and DecodeMemfd return
// these (wrapped) when the fixed header is wrong.
var (
	// ErrShort is returned when a record is shorter than HeaderSize.
	ErrShort = errors.New("record shorter than the header")
	// ErrBadMagic is returned when a record does not start with "MG".
	ErrBadMagic = errors.New("bad magic")
	// ErrBadVersion is returned when the header's version is not Version.
	ErrBadVersion = errors.New("unsupported protocol version")
	// ErrReserved is returned when the header's reserved word is not zero.
	ErrReserved = errors.New("reserved header bits set")
	// ErrBadFlags is returned when the header sets a flag bit this version
	// does not define.
	ErrBadFlags = errors.New("unknown header flags")
	// ErrTooManyFDs is returned when a header declares more than MaxFDs
	// descriptors, or a memfd payload without any descriptor.
	ErrTooManyFDs = errors.New("bad declared descriptor count")
	// ErrBadID is returned when a request id is zero or lies in the other
	// side's id space (see FromSupervisor).
	ErrBadID = errors.New("bad request id")
	// ErrLength is returned when the payload length in the header does not
	// match the bytes that follow it.
	ErrLength = errors.New("payload length does not match the record")
	// ErrTooLarge is returned when a payload exceeds MaxPayload (inline) or
	// MaxMemfdPayload (in a memfd). Encode returns it for a message that must
	// travel with EncodeMemfd instead.
	ErrTooLarge = errors.New("message too large")
	// ErrPayloadInMemfd is returned by Decode for a record whose payload
	// travels in a memfd: read the memfd and call DecodeMemfd.
	ErrPayloadInMemfd = errors.New("payload travels in a memfd")
	// ErrNotMemfd is returned by DecodeMemfd for a record without
	// FlagPayloadMemfd.
	ErrNotMemfd = errors.New("record does not carry a memfd payload")
)

// Message errors: the header was fine but the message is not.
var (
	// ErrUnknownType is returned for a message type this version does not
	// define. The header decoded, so its ID can be answered with
	// CodeNotSupported.
	ErrUnknownType = errors.New("unknown message type")
	// ErrFDCount is returned when the header's declared descriptor count
	// differs from the count the body implies (one per slot, one for
	// GetSession, plus the memfd).
	ErrFDCount = errors.New("declared descriptor count does not match the message")
	// ErrInvalid is returned when every field decoded but the message breaks
	// a rule across fields (a zero session id, a complete continuation
	// without an exec description, two slots with the same fd number, ...).
	ErrInvalid = errors.New("invalid message")
)

// Field errors: a *FieldError wraps one of these.
var (
	// ErrTruncated is returned when a field header or value runs past the
	// end of its enclosing payload.
	ErrTruncated = errors.New("field truncated")
	// ErrMissing is returned when a required field (one whose zero value
	// means something, such as uid 0 or fd 0) is absent.
	ErrMissing = errors.New("required field missing")
	// ErrBadTag is returned for the reserved field tag 0.
	ErrBadTag = errors.New("field tag 0 is reserved")
	// ErrDuplicate is returned when a field that is not repeated appears
	// twice.
	ErrDuplicate = errors.New("duplicate field")
	// ErrFieldSize is returned when a fixed-width field has the wrong
	// length, or a string or byte field is longer than its limit.
	ErrFieldSize = errors.New("bad field length")
	// ErrTooMany is returned when a repeated field occurs more often than
	// its limit.
	ErrTooMany = errors.New("too many repeated fields")
	// ErrBadUTF8 is returned for a string field that is not valid UTF-8.
	ErrBadUTF8 = errors.New("string is not valid UTF-8")
	// ErrNUL is returned for an argument, environment entry or directory
	// that contains a NUL byte, which execve cannot carry.
	ErrNUL = errors.New("string contains a NUL byte")
	// ErrBadBool is returned for a boolean field that is neither 0 nor 1.
	ErrBadBool = errors.New("boolean is neither 0 nor 1")
	// ErrUnknownCritical is returned for an unknown field whose tag has the
	// critical bit (0x8000) set: the sender needs it understood.
	ErrUnknownCritical = errors.New("unknown critical field")
)

// FieldError reports which field of a payload is malformed.
type FieldError struct {
	// Field is the dotted path of the field, such as "exec.args" or
	// "slots[2].name"; empty when the field is unknown to this version.
	Field string
	// Tag is the tag of the innermost offending field.
	Tag uint16
	// Err is one of the field errors above (ErrTruncated, ErrDuplicate, ...).
	Err error
}

func (e *FieldError) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("field tag %#04x: %v", e.Tag, e.Err)
	}
	return fmt.Sprintf("field %s (tag %d): %v", e.Field, e.Tag, e.Err)
}

func (e *FieldError) Unwrap() error { return e.Err }

// CodeOf maps an error from this package's decoders to the ErrorCode a
// receiver should answer with. Errors from elsewhere map to CodeInternal.
func CodeOf(err error) ErrorCode {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, ErrBadVersion):
		return CodeBadVersion
	case errors.Is(err, ErrFDCount), errors.Is(err, ErrTooManyFDs):
		return CodeFDCountMismatch
	case errors.Is(err, ErrTooLarge):
		return CodeTooLarge
	case errors.Is(err, ErrUnknownType), errors.Is(err, ErrUnknownCritical):
		return CodeNotSupported
	case isDecodeError(err):
		return CodeBadMessage
	}
	return CodeInternal
}

var decodeErrors = []error{
	ErrShort, ErrBadMagic, ErrReserved, ErrBadFlags, ErrBadID, ErrLength,
	ErrPayloadInMemfd, ErrNotMemfd, ErrInvalid,
	ErrTruncated, ErrMissing, ErrBadTag, ErrDuplicate, ErrFieldSize, ErrTooMany,
	ErrBadUTF8, ErrNUL, ErrBadBool,
}

func isDecodeError(err error) bool {
	for _, e := range decodeErrors {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}
