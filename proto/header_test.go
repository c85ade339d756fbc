package proto

import (
	"encoding/binary"
	"errors"
	"testing"
)

func TestDecodeHeaderErrors(t *testing.T) {
	valid := record(TypeResumed, 7, 0, field(1, u64v(9)))
	le := binary.LittleEndian
	mutate := func(f func(b []byte) []byte) []byte {
		return f(append([]byte(nil), valid...))
	}
	tests := []struct {
		name string
		rec  []byte
		want error
	}{
		{"empty", nil, ErrShort},
		{"23 bytes", valid[:HeaderSize-1], ErrShort},
		{"bad magic", mutate(func(b []byte) []byte { b[0] = 'm'; return b }), ErrBadMagic},
		{"version 0", mutate(func(b []byte) []byte { b[2] = 0; return b }), ErrBadVersion},
		{"version 2", mutate(func(b []byte) []byte { b[2] = 2; return b }), ErrBadVersion},
		{"reserved set", mutate(func(b []byte) []byte { b[23] = 1; return b }), ErrReserved},
		{"unknown flag", mutate(func(b []byte) []byte { b[5] = 0x80; return b }), ErrBadFlags},
		{"254 descriptors", mutate(func(b []byte) []byte { le.PutUint16(b[6:], 254); return b }), ErrTooManyFDs},
		{"65535 descriptors", mutate(func(b []byte) []byte { le.PutUint16(b[6:], 0xffff); return b }), ErrTooManyFDs},
		{"id 0", mutate(func(b []byte) []byte { le.PutUint64(b[8:], 0); return b }), ErrBadID},
		{"payload shorter than declared", valid[:len(valid)-1], ErrLength},
		{"payload longer than declared", append(append([]byte(nil), valid...), 0), ErrLength},
		{"length beyond buffer", mutate(func(b []byte) []byte { le.PutUint32(b[16:], 1<<31); return b }), ErrTooLarge},
		{"length beyond MaxPayload", func() []byte {
			b := make([]byte, MaxMessageSize+1)
			copy(b, record(TypeStore, 1, 0, nil))
			le.PutUint32(b[16:], MaxPayload+1)
			return b
		}(), ErrTooLarge},
		{"memfd record with inline payload", mutate(func(b []byte) []byte {
			le.PutUint16(b[4:], uint16(FlagPayloadMemfd))
			le.PutUint16(b[6:], 1)
			return b
		}), ErrLength},
		{"memfd without descriptors", func() []byte {
			b := record(TypeResumed, 7, 0, nil)
			le.PutUint16(b[4:], uint16(FlagPayloadMemfd))
			le.PutUint32(b[16:], 100)
			return b
		}(), ErrTooManyFDs},
		{"memfd beyond MaxMemfdPayload", func() []byte {
			b := record(TypeResumed, 7, 1, nil)
			le.PutUint16(b[4:], uint16(FlagPayloadMemfd))
			le.PutUint32(b[16:], MaxMemfdPayload+1)
			return b
		}(), ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := DecodeHeader(tt.rec); !errors.Is(err, tt.want) {
				t.Errorf("DecodeHeader: err = %v, want %v", err, tt.want)
			}
			if n, err := DeclaredFDs(tt.rec); !errors.Is(err, tt.want) || n != 0 {
				t.Errorf("DeclaredFDs = %d, %v; want 0, %v", n, err, tt.want)
			}
			if _, err := Decode(tt.rec); !errors.Is(err, tt.want) {
				t.Errorf("Decode: err = %v, want %v", err, tt.want)
			}
		})
	}
}

// Past the magic, a bad header still yields its id, so the receiver can
// address an Error reply; CodeOf picks the code.
func TestDecodeHeaderKeepsIDForReply(t *testing.T) {
	b := record(TypeHello, 41, 0, nil)
	b[2] = 9
	h, err := DecodeHeader(b)
	if !errors.Is(err, ErrBadVersion) || h.ID != 41 || h.Type != TypeHello {
		t.Fatalf("DecodeHeader = %+v, %v; want id 41 and ErrBadVersion", h, err)
	}
	if c := CodeOf(err); c != CodeBadVersion {
		t.Errorf("CodeOf = %v, want bad-version", c)
	}
}

func TestDecodeHeaderFields(t *testing.T) {
	b := record(TypeAttachSession, SupervisorBit|5, 3, []byte{1, 2})
	h, err := DecodeHeader(b)
	want := Header{Version: 1, Type: TypeAttachSession, FDs: 3, ID: SupervisorBit | 5, Length: 2}
	if err != nil || h != want {
		t.Fatalf("DecodeHeader = %+v, %v; want %+v", h, err, want)
	}
	if !FromSupervisor(h.ID) || FromSupervisor(5) {
		t.Error("FromSupervisor does not test SupervisorBit")
	}
}
