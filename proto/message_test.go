package proto

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func mustEncode(t *testing.T, m Message) []byte {
	t.Helper()
	b, err := Encode(m)
	if err != nil {
		t.Fatalf("Encode(%v): %v", m.Body.Type(), err)
	}
	return b
}

// Every type of the protocol has a sample, and every sample survives a round
// trip unchanged; re-encoding gives the same bytes.
func TestRoundTripEveryType(t *testing.T) {
	covered := map[Type]bool{}
	for _, m := range samples() {
		t.Run(m.Body.Type().String(), func(t *testing.T) {
			covered[m.Body.Type()] = true
			b := mustEncode(t, m)
			got, err := Decode(b)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if !reflect.DeepEqual(got, m) {
				t.Fatalf("round trip changed the message:\n got %#v\nwant %#v", got.Body, m.Body)
			}
			if again := mustEncode(t, got); !bytes.Equal(again, b) {
				t.Fatalf("re-encoding differs:\n% x\n% x", again, b)
			}
			if n, err := DeclaredFDs(b); err != nil || n != m.Body.fds() {
				t.Fatalf("DeclaredFDs = %d, %v; want %d", n, err, m.Body.fds())
			}
		})
	}
	for _, typ := range Types() {
		if !covered[typ] {
			t.Errorf("no sample for %v", typ)
		}
	}
}

// The fields of every sample are all set: a round trip that drops a field
// would otherwise go unnoticed.
func TestSamplesSetEveryField(t *testing.T) {
	for _, m := range samples() {
		checkAllSet(t, m.Body.Type().String(), reflect.ValueOf(m.Body).Elem())
	}
}

func checkAllSet(t *testing.T, path string, v reflect.Value) {
	t.Helper()
	for i := range v.NumField() {
		f, name := v.Field(i), path+"."+v.Type().Field(i).Name
		switch {
		case f.Kind() == reflect.Struct:
			checkAllSet(t, name, f)
		case f.Kind() == reflect.Pointer && !f.IsNil():
			checkAllSet(t, name, f.Elem())
		case f.IsZero() && !zeroOnPurpose[name]:
			t.Errorf("sample leaves %s zero", name)
		}
	}
}

// Fields whose zero value is what the sample tests (required fields sent
// as zero, and the alternative half of a Scope).
var zeroOnPurpose = map[string]bool{
	"GetSession.FD": true, "ReturnCont.Exec.UID": true, "ReturnCont.Exec.GID": true,
	"Store.Scope.Cont": true, "Export.Scope.Cont": true,
	"Retrieve.Scope.Session": true, "StoreSize.Scope.Session": true,
}

// A hand-built record, written from docs/protocol.md alone, decodes to the
// expected message, and Encode produces exactly those bytes.
func TestHandBuiltRecord(t *testing.T) {
	slot := cat(field(1, u32v(7)), field(2, []byte("client")), field(3, u8v(1)), field(4, u8v(1)))
	entry := cat(field(1, []byte("k")), field(2, []byte{0xff}), field(3, u8v(1)))
	exec := cat(field(1, []byte("/bin/sh")), field(1, []byte("-c")), field(3, []byte("/")),
		field(4, u32v(1000)), field(5, u32v(1000)))
	payload := cat(field(1, u64v(12)), field(3, u8v(3)), field(4, slot), field(5, entry), field(8, exec))
	rec := record(TypeReturnCont, 5, 1, payload)
	want := Message{ID: 5, Body: &ReturnCont{
		Session: 12, Kind: KindComplete,
		Slots: []Slot{{FD: 7, Name: "client", Role: RoleConn, Conn: true}},
		Store: []Entry{{Key: "k", Value: []byte{0xff}, Exported: true}},
		Exec:  &Exec{Args: []string{"/bin/sh", "-c"}, Cwd: "/", UID: 1000, GID: 1000},
	}}
	got, err := Decode(rec)
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %#v\nwant %#v", got.Body, want.Body)
	}
	if b := mustEncode(t, want); !bytes.Equal(b, rec) {
		t.Fatalf("Encode:\n% x\nwant\n% x", b, rec)
	}
}

// Fields may come in any order, unknown fields are skipped (forward
// compatibility), and a field's value may be given explicitly as zero.
func TestDecodeToleratesOrderUnknownAndZero(t *testing.T) {
	payload := cat(field(0x7abc, []byte("from the future")), field(3, []byte("echo")),
		field(2, u32v(0)), field(1, u8v(1)), field(0x4000, nil))
	m, err := Decode(record(TypeHello, 1, 0, payload))
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if want := (&Hello{Version: 1, App: "echo"}); !reflect.DeepEqual(m.Body, want) {
		t.Fatalf("got %#v, want %#v", m.Body, want)
	}
}

// Payloads too large for a record travel in a memfd: Encode refuses them,
// EncodeMemfd frames them, DecodeMemfd reads them back.
func TestMemfdPayload(t *testing.T) {
	big := Message{ID: 3, Body: &ReturnCont{
		Session: 1, Kind: KindSystem,
		Slots: []Slot{{FD: 4, Role: RoleConn, Conn: true}},
		Store: []Entry{{Key: "blob", Value: bytes.Repeat([]byte{7}, MaxPayload)}},
	}}
	if _, err := Encode(big); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Encode of a %d-byte value: err = %v, want ErrTooLarge", MaxPayload, err)
	}
	rec, payload, err := EncodeMemfd(big)
	if err != nil {
		t.Fatalf("EncodeMemfd: %v", err)
	}
	h, err := DecodeHeader(rec)
	if err != nil {
		t.Fatalf("DecodeHeader: %v", err)
	}
	want := Header{Version: 1, Type: TypeReturnCont, Flags: FlagPayloadMemfd, FDs: 2, ID: 3, Length: uint32(len(payload))}
	if h != want || len(rec) != HeaderSize {
		t.Fatalf("memfd header = %+v (record %d bytes), want %+v (record %d bytes)", h, len(rec), want, HeaderSize)
	}
	got, err := DecodeMemfd(rec, payload)
	if err != nil {
		t.Fatalf("DecodeMemfd: %v", err)
	}
	if !reflect.DeepEqual(got, big) {
		t.Fatal("memfd round trip changed the message")
	}
	payload[len(payload)-1] = 9 // the decoded message must not alias the memfd's bytes
	if got.Body.(*ReturnCont).Store[0].Value[MaxPayload-1] != 7 {
		t.Fatal("decoded value aliases the payload")
	}
	if _, err := Decode(rec); !errors.Is(err, ErrPayloadInMemfd) {
		t.Errorf("Decode of a memfd record: err = %v, want ErrPayloadInMemfd", err)
	}
	if _, err := DecodeMemfd(rec, payload[1:]); !errors.Is(err, ErrLength) {
		t.Errorf("DecodeMemfd with a short memfd: err = %v, want ErrLength", err)
	}
	inline := mustEncode(t, samples()[0])
	if _, err := DecodeMemfd(inline, nil); !errors.Is(err, ErrNotMemfd) {
		t.Errorf("DecodeMemfd of an inline record: err = %v, want ErrNotMemfd", err)
	}
}

func TestEncodeMemfdLimits(t *testing.T) {
	slots := make([]Slot, MaxFDs)
	for i := range slots {
		slots[i] = Slot{FD: int32(i), Role: RoleFile}
	}
	full := Message{ID: 1, Body: &ReturnCont{Session: 1, Kind: KindSystem, Slots: slots}}
	if _, err := Encode(full); err != nil {
		t.Fatalf("Encode with %d slots: %v", MaxFDs, err)
	}
	if _, _, err := EncodeMemfd(full); !errors.Is(err, ErrTooManyFDs) {
		t.Errorf("EncodeMemfd with %d slots and a memfd: err = %v, want ErrTooManyFDs", MaxFDs, err)
	}
	huge := Message{ID: 1, Body: &Store{Scope: Scope{Session: 1}, Key: "k", Value: make([]byte, MaxMemfdPayload)}}
	if _, _, err := EncodeMemfd(huge); !errors.Is(err, ErrTooLarge) {
		t.Errorf("EncodeMemfd beyond MaxMemfdPayload: err = %v, want ErrTooLarge", err)
	}
}

// A decoded message never aliases the record it came from.
func TestDecodeDoesNotAlias(t *testing.T) {
	b := mustEncode(t, Message{ID: 1, Body: &Store{Scope: Scope{Session: 1}, Key: "key", Value: []byte("value")}})
	m, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	for i := HeaderSize; i < len(b); i++ {
		b[i] = 'X'
	}
	if s := m.Body.(*Store); s.Key != "key" || string(s.Value) != "value" {
		t.Fatalf("decoded message changed with its record: %+v", s)
	}
}

func TestErrorIsAnError(t *testing.T) {
	var err error = &Error{Code: CodeUnknownSession, Message: "session 4"}
	if got := err.Error(); got != "unknown-session: session 4" {
		t.Errorf("Error() = %q", got)
	}
	if got := (&Error{Code: 999}).Error(); got != "999" {
		t.Errorf("unknown code: Error() = %q", got)
	}
}

func TestNames(t *testing.T) {
	for _, typ := range Types() {
		if s := typ.String(); strings.HasPrefix(s, "Type(") || typ.Origin() == 0 {
			t.Errorf("type %#x has no name or origin: %q", uint8(typ), s)
		}
	}
	if s := Type(0x7f).String(); s != "Type(0x7f)" {
		t.Errorf("unknown type prints %q", s)
	}
	for c := ErrorCode(1); c <= CodeNotSupported; c++ {
		if s := c.String(); s == "" || s[0] >= '0' && s[0] <= '9' {
			t.Errorf("code %d has no name", c)
		}
	}
	if KindComplete.String() != "complete" || RolePTY.String() != "pty" || ReasonReclaim.String() != "reclaim" {
		t.Error("enum names changed")
	}
}
