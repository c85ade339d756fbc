//go:build linux

package migrate

import (
	"context"
	"net"
	"sync"
	"testing"

	"github.com/migrate-run/migrate/fdpass"
	"github.com/migrate-run/migrate/proto"
)

// ackingSupervisor answers every request with Ack (HelloReply for Hello)
// until the connection closes, closing the descriptors it receives.
func ackingSupervisor(b *testing.B) *Client {
	a, s, err := fdpass.SocketPair()
	if err != nil {
		b.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		serveAcks(s)
	}()
	c, err := NewClient(context.Background(), a)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close(); s.Close(); wg.Wait() })
	return c
}

func serveAcks(s *net.UnixConn) {
	buf := make([]byte, proto.MaxMessageSize)
	for {
		rec, fds, err := fdpass.Recv(s, buf, proto.MaxFDs, proto.DeclaredFDs)
		if err != nil {
			return
		}
		closeFDs(fds)
		h, err := proto.DecodeHeader(rec)
		if err != nil {
			return
		}
		var body proto.Body = &proto.Ack{Value: 1}
		if h.Type == proto.TypeHello {
			body = &proto.HelloReply{Version: 1}
		}
		out, _ := proto.Encode(proto.Message{ID: h.ID, Body: body})
		if fdpass.Send(s, out, nil) != nil {
			return
		}
	}
}

// BenchmarkStore is one Store round trip: encode, send, the reader
// matching the Ack to the waiting call.
func BenchmarkStore(b *testing.B) {
	c := ackingSupervisor(b)
	ctx := context.Background()
	value := make([]byte, 64)
	b.ReportAllocs()
	for b.Loop() {
		if err := c.store(ctx, proto.Scope{Session: 1}, "offset", value); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStoreParallel is Store from many goroutines on one Client.
func BenchmarkStoreParallel(b *testing.B) {
	c := ackingSupervisor(b)
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		value := make([]byte, 64)
		for pb.Next() {
			if err := c.store(ctx, proto.Scope{Session: 1}, "offset", value); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkReturnCont is a system continuation of one descriptor: dup,
// send with SCM_RIGHTS, Ack.
func BenchmarkReturnCont(b *testing.B) {
	c := ackingSupervisor(b)
	x, y, err := fdpass.SocketPair()
	if err != nil {
		b.Fatal(err)
	}
	defer x.Close()
	defer y.Close()
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		s := &Session{c: c, id: 1}
		cont := Continuation{Kind: System, Files: []File{{Conn: nopClose{x}, Session: true}},
			Store: []Entry{{Key: "next", Value: []byte("4711")}}}
		if _, err := s.ReturnCont(ctx, cont); err != nil {
			b.Fatal(err)
		}
	}
}

// nopClose keeps ReturnCont from closing the benchmark's socket.
type nopClose struct{ *net.UnixConn }

func (nopClose) Close() error { return nil }
