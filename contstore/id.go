package contstore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"

	bolt "go.etcd.io/bbolt"
)

// ID identifies a continuation. It is the u64 the control protocol carries
// (and gives a resumed process as MIGRATE_CONT_ID, in decimal); 0 is never a
// continuation's ID. Put assigns the next number of the store's sequence to
// a continuation put with ID 0, so IDs follow creation order. The store keys
// continuations by the 8-byte big-endian ID, so byte order is numeric order.
//
// The text form is decimal, for example "42"; ParseID reads it back.
type ID uint64

// SessionID identifies a session. Like ID it is the protocol's u64, never 0,
// assigned by PutSession from a sequence of its own; a session and a
// continuation may have the same number.
type SessionID uint64

// String returns the decimal form.
func (id ID) String() string { return strconv.FormatUint(uint64(id), 10) }

// String returns the decimal form.
func (id SessionID) String() string { return strconv.FormatUint(uint64(id), 10) }

// MarshalText implements encoding.TextMarshaler with the decimal form, so
// that JSON carries an ID as a string: readers that hold numbers as doubles
// would round one above 2^53.
func (id ID) MarshalText() ([]byte, error) {
	return strconv.AppendUint(nil, uint64(id), 10), nil
}

// MarshalText implements encoding.TextMarshaler; see ID.MarshalText.
func (id SessionID) MarshalText() ([]byte, error) {
	return strconv.AppendUint(nil, uint64(id), 10), nil
}

// UnmarshalText implements encoding.TextUnmarshaler by the rules of
// ParseID, except that it reads "0" as the zero ID, which MarshalText writes
// for an ID not set yet, so that every value survives a round trip.
func (id *ID) UnmarshalText(b []byte) error { return unmarshalID(id, b, ParseID) }

// UnmarshalText implements encoding.TextUnmarshaler; see ID.UnmarshalText.
func (id *SessionID) UnmarshalText(b []byte) error { return unmarshalID(id, b, ParseSessionID) }

// unmarshalID sets *dst from text b, and leaves it alone on error.
func unmarshalID[T ~uint64](dst *T, b []byte, parse func(string) (T, error)) error {
	if string(b) == "0" {
		*dst = 0
		return nil
	}
	v, err := parse(string(b))
	if err == nil {
		*dst = v
	}
	return err
}

// ParseID reads the decimal form of a continuation ID, as MIGRATE_CONT_ID
// carries it: 1 to 20 ASCII digits, without sign, space or leading zero,
// at most 2^64-1 and not 0. Anything else is a *ValidationError wrapping
// ErrInvalid that says what is wrong.
func ParseID(s string) (ID, error) {
	v, err := parseU64("ID", s)
	if err != nil {
		return 0, fmt.Errorf("parse continuation id %q: %w", s, err)
	}
	return ID(v), nil
}

// ParseSessionID reads the decimal form of a session ID, by the rules of
// ParseID.
func ParseSessionID(s string) (SessionID, error) {
	v, err := parseU64("SessionID", s)
	if err != nil {
		return 0, fmt.Errorf("parse session id %q: %w", s, err)
	}
	return SessionID(v), nil
}

func parseU64(field, s string) (uint64, error) {
	if s == "" {
		return 0, invalid(field, "empty")
	}
	for i, r := range s {
		if r < '0' || r > '9' {
			return 0, invalid(field, "character %q at %d is not a decimal digit", r, i)
		}
	}
	switch {
	case s == "0":
		return 0, invalid(field, "0 is never an id")
	case s[0] == '0':
		return 0, invalid(field, "leading zero")
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if errors.Is(err, strconv.ErrRange) {
		return 0, invalid(field, "above the largest id, %d", uint64(math.MaxUint64))
	} else if err != nil { // digits only, so this cannot happen
		return 0, invalid(field, "%v", err)
	}
	return v, nil
}

// u64Key is the 8-byte big-endian key of an id. bbolt keeps a key until
// the transaction ends, so every call returns a new slice.
func u64Key(v uint64) []byte { return binary.BigEndian.AppendUint64(make([]byte, 0, 8), v) }

func (id ID) key() []byte        { return u64Key(uint64(id)) }
func (id SessionID) key() []byte { return u64Key(uint64(id)) }

// keyU64 reads an 8-byte id key; it reports false for any other length and
// for 0, which no record may have.
func keyU64(k []byte) (uint64, bool) {
	if len(k) != 8 {
		return 0, false
	}
	v := binary.BigEndian.Uint64(k)
	return v, v != 0
}

// claimID decides the id of a new record of bucket b inside the write
// transaction. An id of 0 gets the bucket's next sequence number; any other
// is the caller's, and the sequence is raised to it, so that no later
// number collides with it. The sequence lives in the bucket, so a
// transaction that fails (or that a shared commit re-runs) takes back what it
// claimed. The caller checks whether a caller-given id is taken.
func claimID(b *bolt.Bucket, id uint64) (uint64, error) {
	seq := b.Sequence()
	if id != 0 {
		if id > seq {
			return id, b.SetSequence(id)
		}
		return id, nil
	}
	if seq == math.MaxUint64 {
		return 0, ErrIDsExhausted
	}
	next, err := b.NextSequence()
	if err != nil {
		return 0, err
	}
	if _, taken := lookup(b, u64Key(next)); taken {
		return 0, fmt.Errorf("%w: id %d, the bucket's next sequence number, is taken", ErrCorrupt, next)
	}
	return next, nil
}
