package wire

import (
	"encoding/binary"
	"fmt"
)

// Type is a frame's type.
type Type uint8

// The frame types.
const (
	// TypeHello opens the session, client to server (Hello).
	TypeHello Type = 1
	// TypeData carries terminal bytes either way: keystrokes to the server,
	// output to the client.
	TypeData Type = 2
	// TypeWinsize says the client's terminal changed size (Winsize).
	TypeWinsize Type = 3
	// TypeEOF says the client's input ended (an empty payload).
	TypeEOF Type = 4
	// TypeExit ends the session, server to client (Exit).
	TypeExit Type = 5
)

func (t Type) String() string {
	switch t {
	case TypeHello:
		return "hello"
	case TypeData:
		return "data"
	case TypeWinsize:
		return "window-size"
	case TypeEOF:
		return "eof"
	case TypeExit:
		return "exit"
	}
	return fmt.Sprintf("type %d", uint8(t))
}

func (t Type) known() bool { return t >= TypeHello && t <= TypeExit }

// HeaderSize is the size of a frame's type and length.
const HeaderSize = 5

// MaxPayload bounds a frame's payload.
const MaxPayload = 64 << 10

// A Frame is one decoded frame.
type Frame struct {
	Type    Type
	Payload []byte
}

// AppendFrame appends a frame of type t with payload p to dst. p must be at
// most MaxPayload bytes.
func AppendFrame(dst []byte, t Type, p []byte) []byte {
	dst = append(dst, byte(t))
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(p)))
	return append(dst, p...)
}

// AppendData appends p as data frames of at most MaxPayload bytes each
// (none for an empty p).
func AppendData(dst, p []byte) []byte {
	for len(p) > 0 {
		n := min(len(p), MaxPayload)
		dst = AppendFrame(dst, TypeData, p[:n])
		p = p[n:]
	}
	return dst
}

// AppendEOF appends an eof frame.
func AppendEOF(dst []byte) []byte { return AppendFrame(dst, TypeEOF, nil) }
