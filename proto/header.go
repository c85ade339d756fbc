package proto

import (
	"encoding/binary"
	"fmt"
)

// Framing constants. See docs/protocol.md for the byte layout.
const (
	// Version is the protocol version this package speaks; every header
	// carries it in byte 2.
	Version = 1
	// HeaderSize is the size of the fixed header that starts every record.
	HeaderSize = 24
	// MaxMessageSize is the largest record, header included. A receiver
	// reads into a buffer of this size; a larger record is truncated by the
	// kernel (MSG_TRUNC) and is an error.
	MaxMessageSize = 64 << 10
	// MaxPayload is the largest payload that travels inline in a record.
	MaxPayload = MaxMessageSize - HeaderSize
	// MaxMemfdPayload is the largest payload that travels in a sealed memfd
	// (FlagPayloadMemfd).
	MaxMemfdPayload = 16 << 20
	// MaxFDs is the most descriptors one record may carry, memfd included:
	// the kernel's SCM_MAX_FD.
	MaxFDs = 253
)

// magic is the first two bytes of every record: "MG".
const magic0, magic1 = 'M', 'G'

// Flags are the header's flag bits. A receiver rejects bits it does not know.
type Flags uint16

const (
	// FlagPayloadMemfd says the payload is not in the record but in a sealed
	// memfd: the record is just the header, its payload length is the
	// memfd's size, and the memfd is the record's last descriptor (index
	// FDs-1). The message's own descriptors keep indices 0..FDs-2.
	FlagPayloadMemfd Flags = 1 << 0

	knownFlags = FlagPayloadMemfd
)

// SupervisorBit marks a request id allocated by the supervisor. Each side
// numbers its requests on one connection 1, 2, 3, ...; the supervisor sets
// this bit on its own, so the two id spaces never collide and a reply (which
// carries its request's id) is matched without ambiguity.
const SupervisorBit uint64 = 1 << 63

// FromSupervisor reports whether id lies in the supervisor's id space.
func FromSupervisor(id uint64) bool { return id&SupervisorBit != 0 }

// Header is the fixed 24-byte header of a record.
type Header struct {
	Version uint8
	Type    Type
	Flags   Flags
	// FDs is the number of descriptors the sender attached to the record
	// (SCM_RIGHTS), memfd included. The receiver closes all of them and
	// rejects the record unless exactly this many arrived.
	FDs int
	// ID is the request id; a reply carries the id of its request.
	ID uint64
	// Length is the payload length: the bytes after the header, or the
	// memfd's size when FlagPayloadMemfd is set.
	Length uint32
}

// DecodeHeader validates the header at the start of the record b, including
// that the payload length agrees with len(b). When the error is not ErrShort
// or ErrBadMagic, the returned Header is filled in as far as the bytes go, so
// a receiver can answer its ID with an Error (CodeOf tells which code).
func DecodeHeader(b []byte) (Header, error) {
	if len(b) < HeaderSize {
		return Header{}, fmt.Errorf("decode header of %d bytes: %w", len(b), ErrShort)
	}
	if b[0] != magic0 || b[1] != magic1 {
		return Header{}, fmt.Errorf("decode header: %w %#02x%02x", ErrBadMagic, b[0], b[1])
	}
	le := binary.LittleEndian
	h := Header{
		Version: b[2],
		Type:    Type(b[3]),
		Flags:   Flags(le.Uint16(b[4:])),
		FDs:     int(le.Uint16(b[6:])),
		ID:      le.Uint64(b[8:]),
		Length:  le.Uint32(b[16:]),
	}
	if err := h.check(len(b), le.Uint32(b[20:])); err != nil {
		return h, fmt.Errorf("decode header of %v %d: %w", h.Type, h.ID, err)
	}
	return h, nil
}

func (h Header) check(size int, reserved uint32) error {
	switch {
	case h.Version != Version:
		return fmt.Errorf("%w %d, want %d", ErrBadVersion, h.Version, Version)
	case reserved != 0:
		return fmt.Errorf("%w: %#08x", ErrReserved, reserved)
	case h.Flags&^knownFlags != 0:
		return fmt.Errorf("%w %#04x", ErrBadFlags, uint16(h.Flags&^knownFlags))
	case h.FDs > MaxFDs:
		return fmt.Errorf("%w: %d > %d", ErrTooManyFDs, h.FDs, MaxFDs)
	case h.ID == 0:
		return fmt.Errorf("%w: 0", ErrBadID)
	}
	if h.Flags&FlagPayloadMemfd != 0 {
		return h.checkMemfd(size)
	}
	if h.Length > MaxPayload {
		return fmt.Errorf("%w: payload of %d bytes > %d", ErrTooLarge, h.Length, MaxPayload)
	}
	if int64(size) != HeaderSize+int64(h.Length) {
		return fmt.Errorf("%w: header says %d bytes, record has %d", ErrLength, h.Length, size-HeaderSize)
	}
	return nil
}

func (h Header) checkMemfd(size int) error {
	switch {
	case h.FDs == 0:
		return fmt.Errorf("%w: memfd payload without descriptors", ErrTooManyFDs)
	case h.Length > MaxMemfdPayload:
		return fmt.Errorf("%w: memfd payload of %d bytes > %d", ErrTooLarge, h.Length, MaxMemfdPayload)
	case size != HeaderSize:
		return fmt.Errorf("%w: memfd record has %d inline payload bytes", ErrLength, size-HeaderSize)
	}
	return nil
}

// DeclaredFDs returns the descriptor count that the header of record b
// declares, after validating the header. A receiver compares it with the
// descriptors that arrived before it decodes anything else.
func DeclaredFDs(b []byte) (int, error) {
	h, err := DecodeHeader(b)
	if err != nil {
		return 0, err
	}
	return h.FDs, nil
}

// appendHeader appends h to dst with a zero reserved word.
func appendHeader(dst []byte, h Header) []byte {
	le := binary.LittleEndian
	dst = append(dst, magic0, magic1, h.Version, byte(h.Type))
	dst = le.AppendUint16(dst, uint16(h.Flags))
	dst = le.AppendUint16(dst, uint16(h.FDs))
	dst = le.AppendUint64(dst, h.ID)
	dst = le.AppendUint32(dst, h.Length)
	return le.AppendUint32(dst, 0)
}
