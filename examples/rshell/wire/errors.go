package wire

import "errors"

// Sentinel errors; every error of this package wraps one of them.
var (
	// ErrUnknownType is returned for a frame type this version does not
	// know: the stream cannot be followed past it.
	ErrUnknownType = errors.New("unknown frame type")
	// ErrTooLarge is returned for a frame whose declared length exceeds
	// MaxPayload.
	ErrTooLarge = errors.New("frame too large")
	// ErrMalformed is returned for a payload that does not parse as its
	// type says (a hello of the wrong version, a window size of five bytes,
	// an exit of an unknown kind, ...).
	ErrMalformed = errors.New("malformed frame")
)
