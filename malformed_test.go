//go:build linux

package migrate

import (
	"context"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/migrate-run/migrate/fdpass"
	"github.com/migrate-run/migrate/proto"
)

// rawRecord is a header with the given fields and payload.
func rawRecord(typ proto.Type, fds int, id uint64, payload []byte) []byte {
	b := make([]byte, proto.HeaderSize, proto.HeaderSize+len(payload))
	b[0], b[1], b[2], b[3] = 'M', 'G', proto.Version, byte(typ)
	binary.LittleEndian.PutUint16(b[6:], uint16(fds))
	binary.LittleEndian.PutUint64(b[8:], id)
	binary.LittleEndian.PutUint32(b[16:], uint32(len(payload)))
	return append(b, payload...)
}

func TestMalformedSupervisorRequestsAreAnswered(t *testing.T) {
	checkNoLeaks(t)
	_, f := newFake(t)
	sup := proto.SupervisorBit | 1
	pr, pw, err := fdpass.SocketPair()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	defer pw.Close()
	cases := []struct {
		name string
		rec  []byte
		fds  []int
		code proto.ErrorCode
	}{
		{"truncated field", rawRecord(proto.TypeSuspendRequest, 0, sup, []byte{1, 0, 8, 0, 0, 0, 1}), nil, proto.CodeBadMessage},
		{"zero session", rawRecord(proto.TypeSuspendRequest, 0, sup, nil), nil, proto.CodeBadMessage},
		{"unknown type", rawRecord(proto.Type(0x7e), 0, sup, nil), nil, proto.CodeNotSupported},
		{"app's request type", rawRecord(proto.TypeGetSession, 0, sup, nil), nil, proto.CodeBadMessage},
		{"bad version", append([]byte{'M', 'G', 9}, rawRecord(proto.TypeAck, 0, sup, nil)[3:]...), nil, proto.CodeBadVersion},
		{"undeclared descriptor", rawRecord(proto.TypeSuspendRequest, 0, sup, nil), []int{fdNumber(t, pr)}, proto.CodeFDCountMismatch},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := fdpass.Send(f.conn, tc.rec, tc.fds); err != nil {
				t.Fatal(err)
			}
			e, id, _ := expect[*proto.Error](f)
			if id != sup || e.Code != tc.code {
				t.Errorf("answered %v on %#x, want %v on %#x", e, id, tc.code, sup)
			}
		})
	}
}

func TestMalformedReplyFailsItsCall(t *testing.T) {
	checkNoLeaks(t)
	c, f := newFake(t)
	res := async(func() ([]byte, error) { return c.retrieve(context.Background(), proto.Scope{Session: 1}, "k") })
	_, id, _ := expect[*proto.Retrieve](f)
	if err := fdpass.Send(f.conn, rawRecord(proto.TypeRetrieveReply, 0, id, []byte{2, 0, 1, 0, 0, 0, 7}), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := wait(t, res); !errors.Is(err, ErrProtocol) {
		t.Errorf("call with a malformed reply = %v, want ErrProtocol", err)
	}
	// Stray replies are dropped and the connection goes on.
	f.ack(12345, 0)
	res = async(func() ([]byte, error) { return c.retrieve(context.Background(), proto.Scope{Session: 1}, "k") })
	_, id, _ = expect[*proto.Retrieve](f)
	f.send(proto.Message{ID: id, Body: &proto.RetrieveReply{Value: []byte("v")}}, nil)
	if v, err := wait(t, res); err != nil || string(v) != "v" {
		t.Errorf("next call = %q, %v", v, err)
	}
}

// FuzzReader feeds arbitrary records to a client: it must answer or drop
// each, never crash or hang, and keep working.
func FuzzReader(f *testing.F) {
	good, _ := proto.Encode(proto.Message{ID: proto.SupervisorBit | 3, Body: &proto.SuspendRequest{Session: 5, Reason: 1, DeadlineMS: 10}})
	f.Add(good)
	f.Add(rawRecord(proto.TypeAttachSession, 0, proto.SupervisorBit|1, nil))
	f.Add(rawRecord(proto.TypeAck, 0, 1, []byte{1, 0, 8, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8}))
	f.Add([]byte("MG"))
	f.Fuzz(func(t *testing.T, rec []byte) {
		if len(rec) == 0 || len(rec) > proto.MaxMessageSize {
			return
		}
		c, fk := newFake(t)
		if err := fdpass.Send(fk.conn, rec, nil); err != nil {
			t.Skip(err)
		}
		// Whatever it did with the record, the client still answers calls
		// (skipping any Error it sent back for the record).
		res := async(func() ([]byte, error) { return c.retrieve(context.Background(), proto.Scope{Session: 1}, "k") })
		for {
			m, _ := fk.recv()
			if r, ok := m.Body.(*proto.Retrieve); ok && r.Key == "k" {
				fk.send(proto.Message{ID: m.ID, Body: &proto.RetrieveReply{Value: []byte("v")}}, nil)
				break
			}
		}
		if v, err := wait(t, res); err != nil || string(v) != "v" {
			if !errors.Is(err, ErrProtocol) { // the fuzzed record may have been a bad reply to this very id
				t.Fatalf("call after the record = %q, %v", v, err)
			}
		}
	})
}
