package supervisor

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/migrate-run/migrate/fdpass"
	"github.com/migrate-run/migrate/proto"
)

// Whatever record an admin peer sends, the supervisor answers it or drops
// it, keeps serving, opens no descriptor it keeps, and stores nothing.
func FuzzControlRecord(f *testing.F) {
	for _, m := range []proto.Message{
		{ID: 1, Body: &proto.AdminRequest{Op: proto.AdminStats}},
		{ID: 2, Body: &proto.AdminRequest{Op: proto.AdminShow, Cont: 7, Values: true}},
		{ID: 3, Body: &proto.AdminRequest{Op: proto.AdminStopApp, App: "nobody"}},
		{ID: 4, Body: &proto.Hello{Version: 1, App: "x"}},
		{ID: 5, Body: &proto.Resumed{Cont: 9}},
		{ID: 6, Body: &proto.Ack{Value: 1}},
	} {
		rec, err := proto.Encode(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(rec)
	}
	f.Add([]byte("MG\x01\x60\x01\x00\x00\x00\x07\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"))
	f.Add([]byte("not a record"))
	// zerolog's test writer calls f.Helper, which a fuzz target may not.
	h := newHarness(f, func(c *Config) { c.Log = zerolog.Nop() })
	c, err := net.DialUnix("unixpacket", nil, &net.UnixAddr{Name: h.cfg.Socket, Net: "unixpacket"})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { c.Close() })
	before, err := h.s.store.Stats()
	if err != nil {
		f.Fatal(err)
	}
	buf := make([]byte, proto.MaxMessageSize)
	f.Fuzz(func(t *testing.T, rec []byte) {
		if len(rec) == 0 || len(rec) > proto.MaxMessageSize {
			return
		}
		if err := fdpass.Send(c, rec, nil); err != nil {
			t.Fatalf("send: %v", err)
		}
		// A reply, if any, comes at once; a record the supervisor cannot
		// answer (no magic, no id) gets none.
		_ = c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		if _, fds, err := fdpass.Recv(c, buf, 0, proto.DeclaredFDs); err == nil {
			closeFDs(fds)
		}
		ac, err := Dial(h.cfg.Socket)
		if err != nil {
			t.Fatalf("the supervisor stopped answering: %v", err)
		}
		defer ac.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		st, err := ac.Stats(ctx)
		if err != nil {
			t.Fatalf("stats after the record: %v", err)
		}
		after, _ := h.s.store.Stats()
		if after.TxID != before.TxID || st.HeldAfter != 0 || st.Apps != 0 {
			t.Fatalf("a fuzzed record changed the supervisor: %+v", st)
		}
	})
}
