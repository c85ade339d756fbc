package proto_test

import (
	"errors"
	"fmt"

	"github.com/migrate-run/migrate/proto"
)

func ExampleEncode() {
	// The app's third request: register its connection, fd 5, as a session
	// whose suspend handler returns complete continuations. The record goes
	// out with one descriptor, a dup of fd 5.
	rec, err := proto.Encode(proto.Message{ID: 3, Body: &proto.GetSession{
		FD: 5, Name: "client", Handler: proto.KindComplete,
	}})
	if err != nil {
		fmt.Println(err)
		return
	}
	n, _ := proto.DeclaredFDs(rec)
	fmt.Printf("%d bytes, %d descriptor\n", len(rec), n)
	// Output: 53 bytes, 1 descriptor
}

func ExampleDecode() {
	// A supervisor's reply, as it arrives.
	rec, _ := proto.Encode(proto.Message{ID: 3, Body: &proto.Error{
		Code: proto.CodeUnknownSession, Message: "no session 12",
	}})

	m, err := proto.Decode(rec)
	if err != nil {
		// Answer m's id, if the header was readable, with proto.CodeOf(err).
		fmt.Println(err)
		return
	}
	switch b := m.Body.(type) {
	case *proto.Ack:
		fmt.Println("request", m.ID, "done:", b.Value)
	case *proto.Error:
		var perr *proto.Error
		err := fmt.Errorf("get session: %w", b)
		fmt.Println(err, errors.As(err, &perr) && perr.Code == proto.CodeUnknownSession)
	}
	// Output: get session: unknown-session: no session 12 true
}

func ExampleDecode_rejected() {
	rec, _ := proto.Encode(proto.Message{ID: 1, Body: &proto.Hello{Version: 1}})
	rec[2] = 2 // a version this package does not speak

	_, err := proto.Decode(rec)
	h, _ := proto.DecodeHeader(rec)
	fmt.Println(err)
	fmt.Println("answer request", h.ID, "with", proto.CodeOf(err))
	// Output:
	// decode header of Hello 1: unsupported protocol version 2, want 1
	// answer request 1 with bad-version
}
