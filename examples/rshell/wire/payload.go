package wire

import (
	"encoding/binary"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Version is the protocol version a hello carries.
const Version = 1

// Limits of the text a frame carries.
const (
	MaxTerm    = 64   // bytes of TERM
	MaxMessage = 1024 // bytes of an exit message
)

// Winsize is a terminal's size in character cells; 0 means unknown.
type Winsize struct {
	Rows, Cols uint16
}

// Hello opens a session.
type Hello struct {
	// Term is the client's TERM ("" when it has none): letters, digits
	// and "._+-", at most MaxTerm bytes.
	Term string
	// Size is the client's terminal size, zero when it has no terminal.
	Size Winsize
	// Command, if not empty, is run by the shell (shell -c Command)
	// instead of an interactive shell; valid UTF-8 without NUL.
	Command string
}

// AppendHello appends a hello frame. h must be valid (ParseHello accepts
// what it produces).
func AppendHello(dst []byte, h Hello) []byte {
	p := []byte{Version}
	p = binary.BigEndian.AppendUint16(p, h.Size.Rows)
	p = binary.BigEndian.AppendUint16(p, h.Size.Cols)
	p = append(p, byte(len(h.Term)))
	p = append(append(p, h.Term...), h.Command...)
	return AppendFrame(dst, TypeHello, p)
}

// ParseHello parses a hello payload: version (u8), rows and cols (u16
// BE each), the length of TERM (u8), TERM, and the command (the rest).
func ParseHello(p []byte) (Hello, error) {
	const fixed = 6
	if len(p) < fixed {
		return Hello{}, fmt.Errorf("parse hello: %w: %d bytes, at least %d", ErrMalformed, len(p), fixed)
	}
	if p[0] != Version {
		return Hello{}, fmt.Errorf("parse hello: %w: version %d, want %d", ErrMalformed, p[0], Version)
	}
	h := Hello{Size: Winsize{Rows: binary.BigEndian.Uint16(p[1:]), Cols: binary.BigEndian.Uint16(p[3:])}}
	n := int(p[5])
	rest := p[fixed:]
	if n > len(rest) {
		return Hello{}, fmt.Errorf("parse hello: %w: TERM of %d bytes in %d", ErrMalformed, n, len(rest))
	}
	h.Term, h.Command = string(rest[:n]), string(rest[n:])
	if err := CheckTerm(h.Term); err != nil {
		return Hello{}, fmt.Errorf("parse hello: %w", err)
	}
	if !utf8.ValidString(h.Command) || strings.IndexByte(h.Command, 0) >= 0 {
		return Hello{}, fmt.Errorf("parse hello: %w: command is not UTF-8 text without NUL", ErrMalformed)
	}
	return h, nil
}

// CheckTerm checks that term can be a TERM value: at most MaxTerm bytes of
// letters, digits and "._+-".
func CheckTerm(term string) error {
	if len(term) > MaxTerm {
		return fmt.Errorf("%w: TERM of %d bytes, at most %d", ErrMalformed, len(term), MaxTerm)
	}
	for i := 0; i < len(term); i++ {
		c := term[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("._+-", c) >= 0) {
			return fmt.Errorf("%w: TERM %q has byte %#x", ErrMalformed, term, c)
		}
	}
	return nil
}

// AppendWinsize appends a window-size frame.
func AppendWinsize(dst []byte, ws Winsize) []byte {
	var p [4]byte
	binary.BigEndian.PutUint16(p[0:], ws.Rows)
	binary.BigEndian.PutUint16(p[2:], ws.Cols)
	return AppendFrame(dst, TypeWinsize, p[:])
}

// ParseWinsize parses a window-size payload: rows and cols, u16 BE each.
func ParseWinsize(p []byte) (Winsize, error) {
	if len(p) != 4 {
		return Winsize{}, fmt.Errorf("parse window size: %w: %d bytes, want 4", ErrMalformed, len(p))
	}
	return Winsize{Rows: binary.BigEndian.Uint16(p), Cols: binary.BigEndian.Uint16(p[2:])}, nil
}
