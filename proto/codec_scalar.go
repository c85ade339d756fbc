package proto

import (
	"strconv"
	"unsafe"
)

// integer is every type that travels as a fixed-width little-endian integer.
type integer interface {
	~uint8 | ~uint16 | ~uint32 | ~uint64 | ~int32
}

// num is an optional integer field: absent means zero, and zero is not sent.
func num[T integer](c *codec, tag uint16, name string, p *T) {
	fixed(c, tag, name, p, false)
}

// required is an integer field that is always sent and must be present,
// because zero is a meaningful value (uid 0, fd 0).
func required[T integer](c *codec, tag uint16, name string, p *T) {
	fixed(c, tag, name, p, true)
}

func fixed[T integer](c *codec, tag uint16, name string, p *T, req bool) {
	size := int(unsafe.Sizeof(*p))
	switch c.mode {
	case encoding:
		if *p != 0 || req {
			c.head(tag, size)
			c.buf = appendLE(c.buf, uint64(*p), size)
		}
	case decoding:
		if c.match(tag, name, false) {
			decodeFixed(c, name, p)
		}
	case finishing:
		if req && c.cur.seen&(1<<tag) == 0 && c.err == nil {
			c.err = &FieldError{Field: name, Tag: tag, Err: ErrMissing}
		}
	case describing:
		var zero T
		wire := "u" + strconv.Itoa(8*size)
		if zero-1 < zero {
			wire = "i" + strconv.Itoa(8*size)
		}
		c.describe(fieldInfo{Tag: tag, Name: name, Wire: wire, Required: req})
	}
}

// decodeFixed decodes the current field's value into *p.
func decodeFixed[T integer](c *codec, name string, p *T) {
	if len(c.cur.val) != int(unsafe.Sizeof(*p)) {
		c.fail(name, ErrFieldSize)
		return
	}
	*p = T(readLE(c.cur.val))
}

func appendLE(b []byte, v uint64, size int) []byte {
	for i := range size {
		b = append(b, byte(v>>(8*i)))
	}
	return b
}

func readLE(b []byte) uint64 {
	var v uint64
	for i := len(b) - 1; i >= 0; i-- {
		v = v<<8 | uint64(b[i])
	}
	return v
}

// flag is a boolean field: one byte, 0 or 1; false is not sent.
func (c *codec) flag(tag uint16, name string, p *bool) {
	switch c.mode {
	case encoding:
		if *p {
			c.head(tag, 1)
			c.buf = append(c.buf, 1)
		}
	case decoding:
		if !c.match(tag, name, false) {
			return
		}
		switch {
		case len(c.cur.val) != 1:
			c.fail(name, ErrFieldSize)
		case c.cur.val[0] > 1:
			c.fail(name, ErrBadBool)
		default:
			*p = c.cur.val[0] == 1
		}
	case describing:
		c.describe(fieldInfo{Tag: tag, Name: name, Wire: "bool"})
	}
}

// bytes is a raw byte field; an empty value is not sent and decodes as nil.
// The decoded slice is a copy: it never aliases the input.
func (c *codec) bytes(tag uint16, name string, p *[]byte) {
	switch c.mode {
	case encoding:
		if len(*p) > MaxMemfdPayload && c.err == nil {
			c.err = &FieldError{Field: name, Tag: tag, Err: ErrFieldSize}
		}
		if len(*p) > 0 && c.err == nil {
			c.head(tag, len(*p))
			c.buf = append(c.buf, *p...)
		}
	case decoding:
		if c.match(tag, name, false) && len(c.cur.val) > 0 {
			*p = append([]byte(nil), c.cur.val...)
		}
	case describing:
		c.describe(fieldInfo{Tag: tag, Name: name, Wire: "bytes"})
	}
}
