package proto

import (
	"strings"
	"unicode/utf8"
)

// MaxNameLen is the longest key, name, label, version or rlimit type, in
// bytes.
const MaxNameLen = 255

// text says what a string field may hold.
type text uint8

const (
	// textName: UTF-8, at most MaxNameLen bytes (keys, names, labels).
	textName text = iota
	// textProse: UTF-8, bounded only by the payload (messages, compat values).
	textProse
	// textOS: any bytes but NUL, bounded only by the payload (argv, env,
	// cwd: what execve takes, which need not be UTF-8).
	textOS
)

func (t text) wire() string {
	switch t {
	case textName:
		return "string<=255"
	case textOS:
		return "os-string"
	}
	return "string"
}

func (t text) check(s string) error {
	switch {
	case t == textName && len(s) > MaxNameLen, len(s) > MaxMemfdPayload:
		return ErrFieldSize
	case t == textOS && strings.IndexByte(s, 0) >= 0:
		return ErrNUL
	case t != textOS && !utf8.ValidString(s):
		return ErrBadUTF8
	}
	return nil
}

// str is a string field; the empty string is not sent.
func (c *codec) str(tag uint16, fname string, p *string, t text) {
	switch c.mode {
	case encoding:
		if *p == "" || c.err != nil {
			return
		}
		if err := t.check(*p); err != nil {
			c.err = &FieldError{Field: fname, Tag: tag, Err: err}
			return
		}
		c.head(tag, len(*p))
		c.buf = append(c.buf, *p...)
	case decoding:
		if !c.match(tag, fname, false) {
			return
		}
		s := string(c.cur.val)
		if err := t.check(s); err != nil {
			c.fail(fname, err)
			return
		}
		*p = s
	case describing:
		c.describe(fieldInfo{Tag: tag, Name: fname, Wire: t.wire()})
	}
}

// strs is a repeated string field: one field per element, in order, empty
// elements included; at most max elements.
func (c *codec) strs(tag uint16, fname string, p *[]string, t text, max int) {
	switch c.mode {
	case encoding:
		if c.err != nil {
			return
		}
		if len(*p) > max {
			c.err = &FieldError{Field: fname, Tag: tag, Err: ErrTooMany}
			return
		}
		for _, s := range *p {
			if err := t.check(s); err != nil {
				c.err = &FieldError{Field: fname, Tag: tag, Err: err}
				return
			}
			c.head(tag, len(s))
			c.buf = append(c.buf, s...)
		}
	case decoding:
		if !c.match(tag, fname, true) || !grow(c, fname, p, max) {
			return
		}
		s := string(c.cur.val)
		if err := t.check(s); err != nil {
			c.fail(fname, err)
			return
		}
		*p = append(*p, s)
	case describing:
		c.describe(fieldInfo{Tag: tag, Name: fname, Wire: t.wire(), Repeated: true})
	}
}
