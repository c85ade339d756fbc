//go:build linux

package migrate

import (
	"context"
	"errors"
	"testing"

	"github.com/migrate-run/migrate/fdpass"
	"github.com/migrate-run/migrate/proto"
)

// startFake starts a Client that does not wait for its Hello's answer
// (startClient, as Resumed's shared Client does) against a fake
// supervisor. Both are closed at cleanup.
func startFake(t *testing.T) (*Client, *fakeSup) {
	t.Helper()
	a, b, err := fdpass.SocketPair()
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeSup{t: t, conn: b, buf: make([]byte, proto.MaxMessageSize)}
	t.Cleanup(func() { b.Close() })
	c := startClient(a)
	t.Cleanup(func() { c.Close() })
	return c, f
}

// A request made while Hello is unanswered goes right behind it, and its
// answer counts once the handshake succeeded: the supervisor answers an
// app's requests in order, so a resumed process saves a round trip.
func TestRequestsGoBehindAPendingHello(t *testing.T) {
	checkNoLeaks(t)
	c, f := startFake(t)
	rt := async(func() ([]byte, error) { return c.retrieve(context.Background(), proto.Scope{Cont: 9}, "next") })
	_, hid, _ := expect[*proto.Hello](f)
	_, rid, _ := expect[*proto.Retrieve](f) // before any answer to Hello
	hr := testLimits
	f.send(proto.Message{ID: hid, Body: &hr}, nil)
	f.send(proto.Message{ID: rid, Body: &proto.RetrieveReply{Value: []byte("4711")}}, nil)
	if v, err := wait(t, rt); err != nil || string(v) != "4711" {
		t.Fatalf("Retrieve behind Hello = %q, %v", v, err)
	}
	if got := c.Limits(); got.App != testLimits.App || got.MaxStoreBytes != testLimits.MaxStoreBytes {
		t.Errorf("Limits() = %+v, want those of the HelloReply", got)
	}
	if err := c.Err(); err != nil {
		t.Errorf("Err() = %v after a good handshake", err)
	}
}

// A handshake that fails (here the supervisor speaks another version)
// fails the requests sent behind it, whatever they were answered, and ends
// the Client.
func TestAFailedHelloFailsTheRequestsBehindIt(t *testing.T) {
	checkNoLeaks(t)
	c, f := startFake(t)
	rt := async(func() ([]byte, error) { return c.retrieve(context.Background(), proto.Scope{Cont: 9}, "next") })
	_, hid, _ := expect[*proto.Hello](f)
	_, rid, _ := expect[*proto.Retrieve](f)
	hr := testLimits
	hr.Version = proto.Version + 1
	f.send(proto.Message{ID: hid, Body: &hr}, nil)
	// The Client may have hung up already: this answer may not arrive.
	if rec, err := proto.Encode(proto.Message{ID: rid, Body: &proto.RetrieveReply{Value: []byte("4711")}}); err == nil {
		_ = fdpass.Send(f.conn, rec, nil)
	}
	if v, err := wait(t, rt); !errors.Is(err, ErrProtocol) {
		t.Fatalf("Retrieve behind a failed Hello = %q, %v; want ErrProtocol", v, err)
	}
	<-c.Done()
	if err := c.Err(); !errors.Is(err, ErrProtocol) {
		t.Errorf("Err() = %v after a failed handshake, want ErrProtocol", err)
	}
	if _, err := c.retrieve(context.Background(), proto.Scope{Cont: 9}, "next"); err == nil {
		t.Error("a request after the failed handshake succeeded")
	}
}

// A Client closed before Hello is answered ends at once, its handshake
// with it.
func TestCloseWhileHelloIsPending(t *testing.T) {
	checkNoLeaks(t)
	c, f := startFake(t)
	expect[*proto.Hello](f)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.greeting(context.Background()); !errors.Is(err, ErrClosed) {
		t.Errorf("handshake of a closed Client: %v, want ErrClosed", err)
	}
}
