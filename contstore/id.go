package contstore

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"sync"
	"time"
)

// ID identifies a continuation. It is 16 bytes: a 48-bit big-endian count of
// milliseconds since the Unix epoch, then 80 bits that are random for the
// first ID of a millisecond and incremented for the next ones (the ULID
// layout). Byte order is creation order, so the store keeps continuations
// sorted by creation time, and IDs made by one process strictly increase.
//
// The text form is 26 characters of Crockford base32, for example
// "01JDQ5B2V6Z8X3K4M9N0P7R2ST"; ParseID reads it back.
type ID [16]byte

// maxIDMillis is the largest millisecond count an ID can hold (year 10889).
const maxIDMillis = 1<<48 - 1

// crockford is the ULID alphabet: base32 without I, L, O and U.
const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

var idGen struct {
	sync.Mutex
	last ID
}

// NewID returns a fresh ID stamped with the current time. IDs from one
// process strictly increase even within a millisecond or when the wall clock
// steps back. Call it outside any transaction: it is not idempotent.
func NewID() ID {
	ms := uint64(time.Now().UnixMilli())
	idGen.Lock()
	defer idGen.Unlock()
	var id ID
	if ms <= idGen.last.millis() {
		id = idGen.last.next()
	} else {
		binary.BigEndian.PutUint16(id[0:2], uint16(ms>>32))
		binary.BigEndian.PutUint32(id[2:6], uint32(ms))
		_, _ = rand.Read(id[6:]) // crypto/rand.Read never fails on Linux
	}
	idGen.last = id
	return id
}

func (id ID) millis() uint64 {
	return uint64(binary.BigEndian.Uint16(id[0:2]))<<32 | uint64(binary.BigEndian.Uint32(id[2:6]))
}

// next returns the ID one above id, carrying into the timestamp when the
// random part overflows.
func (id ID) next() ID {
	for i := len(id) - 1; i >= 0; i-- {
		id[i]++
		if id[i] != 0 {
			break
		}
	}
	return id
}

// Time returns the creation time encoded in the ID, in UTC, to the
// millisecond.
func (id ID) Time() time.Time {
	return time.UnixMilli(int64(id.millis())).UTC()
}

// IsZero reports whether id is the zero ID, which Put replaces with NewID().
func (id ID) IsZero() bool { return id == ID{} }

// String returns the 26-character Crockford base32 form.
func (id ID) String() string {
	b, _ := id.MarshalText()
	return string(b)
}

// MarshalText implements encoding.TextMarshaler with the String form.
func (id ID) MarshalText() ([]byte, error) {
	out := make([]byte, 26)
	hi := binary.BigEndian.Uint64(id[0:8])
	lo := binary.BigEndian.Uint64(id[8:16])
	// 130 bits of output for 128 bits of input: the first character carries
	// the top 3 bits, each of the others 5.
	for i := 25; i >= 0; i-- {
		out[i] = crockford[lo&31]
		lo = lo>>5 | hi<<59
		hi >>= 5
	}
	return out, nil
}

// UnmarshalText implements encoding.TextUnmarshaler; see ParseID.
func (id *ID) UnmarshalText(b []byte) error {
	parsed, err := ParseID(string(b))
	if err != nil {
		return err
	}
	*id = parsed
	return nil
}

// ParseID reads the 26-character text form. Letters may be of either case;
// any other length, character or a value above 128 bits is an error wrapping
// ErrInvalid.
func ParseID(s string) (ID, error) {
	if len(s) != 26 {
		return ID{}, fmt.Errorf("parse id %q: %w", s, invalid("ID", "want 26 characters, have %d", len(s)))
	}
	var hi, lo uint64
	for i := 0; i < len(s); i++ {
		v := crockfordValue(s[i])
		if v < 0 {
			return ID{}, fmt.Errorf("parse id %q: %w", s, invalid("ID", "character %q is not Crockford base32", s[i]))
		}
		if i == 0 && v > 7 {
			return ID{}, fmt.Errorf("parse id %q: %w", s, invalid("ID", "value exceeds 128 bits"))
		}
		hi = hi<<5 | lo>>59
		lo = lo<<5 | uint64(v)
	}
	var id ID
	binary.BigEndian.PutUint64(id[0:8], hi)
	binary.BigEndian.PutUint64(id[8:16], lo)
	return id, nil
}

func crockfordValue(c byte) int {
	if c >= 'a' && c <= 'z' {
		c -= 'a' - 'A'
	}
	for v := 0; v < len(crockford); v++ {
		if crockford[v] == c {
			return v
		}
	}
	return -1
}
