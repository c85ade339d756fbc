package proto

import (
	"errors"
	"strings"
	"testing"
)

// Malformed payloads, built by hand: each gives the documented error and the
// code a receiver answers with.
func TestDecodeMessageErrors(t *testing.T) {
	execOK := cat(field(1, []byte("/bin/true")), field(3, []byte("/")), field(4, u32v(0)), field(5, u32v(0)))
	slot := func(fd uint32, conn bool) []byte {
		s := cat(field(1, u32v(fd)), field(3, u8v(uint8(RoleConn))))
		if conn {
			s = append(s, field(4, u8v(1))...)
		}
		return s
	}
	cont := func(fds int, extra ...[]byte) []byte {
		return record(TypeReturnCont, 5, fds, cat(append([][]byte{field(1, u64v(1)), field(3, u8v(1))}, extra...)...))
	}
	manySlots := func(n int) []byte {
		var p [][]byte
		for i := range n {
			p = append(p, field(4, slot(uint32(i), false)))
		}
		return cont(min(n, MaxFDs), p...)
	}
	tests := []struct {
		name  string
		rec   []byte
		want  error
		code  ErrorCode
		field string // FieldError.Field, when the error names a known field
	}{
		{"unknown type", record(Type(0x7f), 1, 0, nil), ErrUnknownType, CodeNotSupported, ""},
		{"app request with supervisor id", record(TypeHello, SupervisorBit|1, 0, field(1, u8v(1))), ErrBadID, CodeBadMessage, ""},
		{"supervisor request with app id", record(TypeSuspendRequest, 1, 0, nil), ErrBadID, CodeBadMessage, ""},
		{"declared fds above slots", cont(2, field(4, slot(3, true))), ErrFDCount, CodeFDCountMismatch, ""},
		{"declared fds below slots", cont(0, field(4, slot(3, true))), ErrFDCount, CodeFDCountMismatch, ""},
		{"GetSession without its descriptor", record(TypeGetSession, 1, 0, field(1, u32v(3))), ErrFDCount, CodeFDCountMismatch, ""},
		{"descriptors on Hello", record(TypeHello, 1, 1, field(1, u8v(1))), ErrFDCount, CodeFDCountMismatch, ""},
		{"field header cut", record(TypeHello, 1, 0, []byte{1, 0, 1}), ErrTruncated, CodeBadMessage, ""},
		{"field value cut", record(TypeHello, 1, 0, field(3, []byte("echo"))[:8]), ErrTruncated, CodeBadMessage, ""},
		{"nested value cut", cont(1, field(4, slot(3, true)[:8])), ErrTruncated, CodeBadMessage, "slots[0]"},
		{"field length 4 GiB", record(TypeHello, 1, 0, []byte{3, 0, 0xff, 0xff, 0xff, 0xff, 'x'}), ErrTruncated, CodeBadMessage, ""},
		{"tag 0", record(TypeHello, 1, 0, field(0, nil)), ErrBadTag, CodeBadMessage, ""},
		{"duplicate field", record(TypeHello, 1, 0, cat(field(1, u8v(1)), field(1, u8v(1)))), ErrDuplicate, CodeBadMessage, "version"},
		{"duplicate nested field", cont(1, field(4, cat(slot(3, true), field(2, []byte("a")), field(2, []byte("b"))))), ErrDuplicate, CodeBadMessage, "slots[0].name"},
		{"u64 of 7 bytes", record(TypeResumed, 1, 0, field(1, u64v(1)[:7])), ErrFieldSize, CodeBadMessage, "cont"},
		{"u8 of 2 bytes", record(TypeHello, 1, 0, field(1, []byte{1, 0})), ErrFieldSize, CodeBadMessage, "version"},
		{"bool 2", cont(1, field(4, cat(slot(3, false), field(4, u8v(2))))), ErrBadBool, CodeBadMessage, "slots[0].conn"},
		{"name of 256 bytes", record(TypeHello, 1, 0, cat(field(1, u8v(1)), field(3, []byte(strings.Repeat("a", 256))))), ErrFieldSize, CodeBadMessage, "app"},
		{"invalid UTF-8", record(TypeHello, 1, 0, cat(field(1, u8v(1)), field(3, []byte{0xff, 0xfe}))), ErrBadUTF8, CodeBadMessage, "app"},
		{"NUL in an argument", cont(0, field(8, cat(field(1, []byte("/bin/sh\x00x")), execOK))), ErrNUL, CodeBadMessage, "exec.args"},
		{"unknown critical field", record(TypeHello, 1, 0, cat(field(1, u8v(1)), field(0x8001, nil))), ErrUnknownCritical, CodeNotSupported, ""},
		{"unknown critical nested field", cont(1, field(4, cat(slot(3, true), field(0x9000, nil)))), ErrUnknownCritical, CodeNotSupported, "slots[0]"},
		{"missing uid", cont(0, field(8, cat(field(1, []byte("/bin/true")), field(3, []byte("/")), field(5, u32v(0))))), ErrMissing, CodeBadMessage, "exec.uid"},
		{"missing slot fd", cont(1, field(4, field(3, u8v(1)))), ErrMissing, CodeBadMessage, "slots[0].fd"},
		{"254 slots", manySlots(254), ErrTooMany, CodeBadMessage, "slots"},
		{"zero version", record(TypeHello, 1, 0, nil), ErrInvalid, CodeBadMessage, ""},
		{"zero session", record(TypeSessionClose, 1, 0, nil), ErrInvalid, CodeBadMessage, ""},
		{"no kind", record(TypeReturnCont, 1, 0, field(1, u64v(1))), ErrInvalid, CodeBadMessage, ""},
		{"kind 4", record(TypeReturnCont, 1, 0, cat(field(1, u64v(1)), field(3, u8v(4)))), ErrInvalid, CodeBadMessage, ""},
		{"system continuation with exec", cont(0, field(8, execOK)), ErrInvalid, CodeBadMessage, ""},
		{"request from the app's id space", cont(0, field(2, u64v(3))), ErrInvalid, CodeBadMessage, ""},
		{"two session connections", cont(2, field(4, slot(3, true)), field(4, slot(4, true))), ErrInvalid, CodeBadMessage, ""},
		{"two slots for one fd", cont(2, field(4, slot(3, true)), field(4, slot(3, false))), ErrInvalid, CodeBadMessage, ""},
		{"negative fd", cont(1, field(4, slot(0xffffffff, false))), ErrInvalid, CodeBadMessage, ""},
		{"slot without role", cont(1, field(4, field(1, u32v(3)))), ErrInvalid, CodeBadMessage, ""},
		{"duplicate store key", cont(0, field(5, field(1, []byte("k"))), field(5, field(1, []byte("k")))), ErrInvalid, CodeBadMessage, ""},
		{"empty store key", cont(0, field(5, field(2, []byte("v")))), ErrInvalid, CodeBadMessage, ""},
		{"scope with both ids", record(TypeRetrieve, 1, 0, cat(field(1, u64v(1)), field(2, u64v(2)), field(3, []byte("k")))), ErrInvalid, CodeBadMessage, ""},
		{"scope with neither id", record(TypeRetrieve, 1, 0, field(3, []byte("k"))), ErrInvalid, CodeBadMessage, ""},
		{"error code 0", record(TypeError, 1, 0, field(2, []byte("oops"))), ErrInvalid, CodeBadMessage, ""},
		{"suspend without deadline", record(TypeSuspendRequest, SupervisorBit|1, 0, cat(field(1, u64v(1)), field(2, u8v(1)))), ErrInvalid, CodeBadMessage, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode(tt.rec)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if c := CodeOf(err); c != tt.code {
				t.Errorf("CodeOf(%v) = %v, want %v", err, c, tt.code)
			}
			var fe *FieldError
			if tt.field != "" && (!errors.As(err, &fe) || fe.Field != tt.field) {
				t.Errorf("err = %v; want it to name field %q", err, tt.field)
			}
		})
	}
}

// Encode refuses what Decode would reject, so a sender learns of its mistake
// before the supervisor does.
func TestEncodeRejects(t *testing.T) {
	exec := func(mod func(*Exec)) *Exec {
		e := &Exec{Args: []string{"/bin/true"}, Cwd: "/"}
		mod(e)
		return e
	}
	complete := func(e *Exec) Message {
		return Message{ID: 1, Body: &ReturnCont{Session: 1, Kind: KindComplete, Exec: e}}
	}
	tests := []struct {
		name string
		m    Message
		want error
	}{
		{"no body", Message{ID: 1}, ErrInvalid},
		{"nil body", Message{ID: 1, Body: (*Hello)(nil)}, ErrInvalid},
		{"value beyond any payload", Message{ID: 1, Body: &Store{Scope: Scope{Session: 1}, Key: "k", Value: make([]byte, MaxMemfdPayload+1)}}, ErrFieldSize},
		{"id 0", Message{Body: &Resumed{Cont: 1}}, ErrBadID},
		{"app request with supervisor id", Message{ID: SupervisorBit | 1, Body: &Resumed{Cont: 1}}, ErrBadID},
		{"zero continuation", Message{ID: 1, Body: &Resumed{}}, ErrInvalid},
		{"complete without exec", Message{ID: 1, Body: &ReturnCont{Session: 1, Kind: KindComplete}}, ErrInvalid},
		{"no program", complete(exec(func(e *Exec) { e.Args = nil })), ErrInvalid},
		{"relative cwd", complete(exec(func(e *Exec) { e.Cwd = "tmp" })), ErrInvalid},
		{"env without =", complete(exec(func(e *Exec) { e.Env = []string{"PATH"} })), ErrInvalid},
		{"soft above hard", complete(exec(func(e *Exec) { e.Rlimits = []Rlimit{{Type: "RLIMIT_NOFILE", Soft: 2, Hard: 1}} })), ErrInvalid},
		{"unknown rlimit", complete(exec(func(e *Exec) { e.Rlimits = []Rlimit{{Type: "NOFILE"}} })), ErrInvalid},
		{"NUL in env", complete(exec(func(e *Exec) { e.Env = []string{"A=\x00"} })), ErrNUL},
		{"key too long", Message{ID: 1, Body: &Store{Scope: Scope{Session: 1}, Key: strings.Repeat("k", 256)}}, ErrFieldSize},
		{"bad UTF-8 name", Message{ID: 1, Body: &Hello{Version: 1, App: "\xff"}}, ErrBadUTF8},
		{"too many slots", Message{ID: 1, Body: &ReturnCont{Session: 1, Kind: KindSystem, Slots: make([]Slot, MaxFDs+1)}}, ErrInvalid},
		{"too many dependencies", Message{ID: 1, Body: &GetSession{DependsOn: make([]uint64, MaxItems+1)}}, ErrInvalid},
		{"duplicate dependency", Message{ID: 1, Body: &GetSession{DependsOn: []uint64{3, 3}}}, ErrInvalid},
		{"duplicate compat id", Message{ID: 1, Body: &CompatRegister{Tags: []CompatTag{{ID: 2}, {ID: 2}}}}, ErrInvalid},
		{"attach of a complete continuation", Message{ID: SupervisorBit | 1, Body: &AttachSession{Cont: 1, Session: 1, Kind: KindComplete}}, ErrInvalid},
		{"value too large", Message{ID: 1, Body: &Store{Scope: Scope{Session: 1}, Key: "k", Value: make([]byte, MaxPayload)}}, ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if b, err := Encode(tt.m); !errors.Is(err, tt.want) {
				t.Errorf("Encode = %d bytes, %v; want %v", len(b), err, tt.want)
			}
		})
	}
}

func TestEncodeErrorNamesNestedField(t *testing.T) {
	m := Message{ID: SupervisorBit | 1, Body: &AttachSession{Cont: 1, Session: 1, Kind: KindInternal,
		Slots: []Slot{{FD: 1, Role: RoleConn}, {FD: 2, Role: RoleFile, Name: "\xff"}}}}
	_, err := Encode(m)
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Field != "slots[1].name" || !errors.Is(err, ErrBadUTF8) {
		t.Fatalf("err = %v, want a FieldError for slots[1].name", err)
	}
}

func TestCodeOf(t *testing.T) {
	if c := CodeOf(nil); c != 0 {
		t.Errorf("CodeOf(nil) = %v", c)
	}
	if c := CodeOf(errors.New("disk on fire")); c != CodeInternal {
		t.Errorf("CodeOf(foreign error) = %v, want internal", c)
	}
}
