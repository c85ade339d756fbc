package wire

import (
	"fmt"
	"unicode/utf8"
)

// How says how a session's shell ended.
type How uint8

// The ways a shell ends.
const (
	// Exited: the shell exited with Code.
	Exited How = 1
	// Signaled: the shell was killed by signal Code.
	Signaled How = 2
	// Unknown: the server could not learn how (Code is 0); Message says
	// why.
	Unknown How = 3
)

// maxSignal is the highest signal number Linux has (SIGRTMAX).
const maxSignal = 64

// Exit is the last frame of a session.
type Exit struct {
	How  How
	Code uint8
	// Message is for people: why the session ended, if not simply
	// because the shell did. Valid UTF-8, at most MaxMessage bytes.
	Message string
}

// ExitCode is the status a client exits with, as a shell reports a
// command's: the code, 128 plus the signal, or 255 when unknown (as ssh
// does for its own errors).
func (e Exit) ExitCode() int {
	switch e.How {
	case Exited:
		return int(e.Code)
	case Signaled:
		return 128 + int(e.Code)
	}
	return 255
}

func (e Exit) String() string {
	var s string
	switch e.How {
	case Exited:
		s = fmt.Sprintf("exit status %d", e.Code)
	case Signaled:
		s = fmt.Sprintf("killed by signal %d", e.Code)
	default:
		s = "exit status unknown"
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// AppendExit appends an exit frame; a message longer than MaxMessage is
// cut, on a UTF-8 boundary.
func AppendExit(dst []byte, e Exit) []byte {
	msg := e.Message
	if len(msg) > MaxMessage {
		msg = msg[:MaxMessage]
		for len(msg) > 0 && !utf8.ValidString(msg) {
			msg = msg[:len(msg)-1]
		}
	}
	return AppendFrame(dst, TypeExit, append([]byte{byte(e.How), e.Code}, msg...))
}

// ParseExit parses an exit payload: how (u8), code (u8), message (the
// rest).
func ParseExit(p []byte) (Exit, error) {
	if len(p) < 2 {
		return Exit{}, fmt.Errorf("parse exit: %w: %d bytes, at least 2", ErrMalformed, len(p))
	}
	e := Exit{How: How(p[0]), Code: p[1], Message: string(p[2:])}
	switch {
	case e.How == Signaled && (e.Code == 0 || e.Code > maxSignal):
		return Exit{}, fmt.Errorf("parse exit: %w: signal %d", ErrMalformed, e.Code)
	case e.How == Unknown && e.Code != 0:
		return Exit{}, fmt.Errorf("parse exit: %w: code %d with an unknown status", ErrMalformed, e.Code)
	case e.How != Exited && e.How != Signaled && e.How != Unknown:
		return Exit{}, fmt.Errorf("parse exit: %w: how %d", ErrMalformed, e.How)
	case len(e.Message) > MaxMessage || !utf8.ValidString(e.Message):
		return Exit{}, fmt.Errorf("parse exit: %w: message of %d bytes is not UTF-8 text up to %d", ErrMalformed, len(e.Message), MaxMessage)
	}
	return e, nil
}
