package supervisor

import (
	"bytes"
	"errors"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/migrate-run/migrate/fdpass"
	"github.com/migrate-run/migrate/proto"
)

// A reply too large for a record (the sessions of a thousand clients)
// travels in a sealed memfd, as the supervisor's conn.send sends it; the
// admin client reads it from there and closes the memfd. A record that
// says memfd but carries none is an error.
func TestDecodeMemfdReply(t *testing.T) {
	doc := append(append([]byte(`{"sessions": ["`), bytes.Repeat([]byte("x"), 3*proto.MaxMessageSize)...), `"]}`...)
	m := proto.Message{ID: 7, Body: &proto.AdminReply{JSON: doc}}
	if _, err := proto.Encode(m); !errors.Is(err, proto.ErrTooLarge) {
		t.Fatalf("Encode of a %d-byte reply: %v, want ErrTooLarge", len(doc), err)
	}
	rec, payload, err := proto.EncodeMemfd(m)
	if err != nil {
		t.Fatal(err)
	}
	mfd, err := fdpass.NewSealedMemfd("reply", payload)
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeReply(rec, []int{mfd})
	if err != nil {
		t.Fatal(err)
	}
	if r, ok := got.Body.(*proto.AdminReply); !ok || got.ID != 7 || !bytes.Equal(r.JSON, doc) {
		t.Fatalf("decoded %T id %d, want the AdminReply of id 7", got.Body, got.ID)
	}
	if _, err := unix.FcntlInt(uintptr(mfd), unix.F_GETFD, 0); !errors.Is(err, unix.EBADF) {
		t.Errorf("the memfd %d is still open (%v)", mfd, err)
	}
	if _, err := decodeReply(rec, nil); err == nil {
		t.Error("a memfd record without its memfd decoded")
	}
}
