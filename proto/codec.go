package proto

import (
	"encoding/binary"
	"errors"
	"strconv"
	"unsafe"
)

// The payload is a sequence of fields, each a 6-byte field header (tag u16,
// length u32, little-endian) and length bytes of value. A struct-valued field
// holds the same kind of sequence. See docs/protocol.md.
const (
	fieldHeaderSize = 6
	// criticalTag marks a field a receiver must understand: an unknown
	// critical field fails the message instead of being skipped.
	criticalTag = 0x8000
	// maxKnownTag bounds the tags this package assigns, so that the fields
	// seen in one struct fit a uint64 bit set.
	maxKnownTag = 63
)

var le = binary.LittleEndian

// schema is implemented by every struct that travels as fields. walk names
// each field once, with its tag; the codec then encodes, decodes or
// describes it. This keeps the tag table in one place per struct.
type schema interface{ walk(c *codec) }

type mode uint8

const (
	encoding   mode = iota
	decoding        // dispatch the current field to the walk call that owns its tag
	finishing       // after decoding a struct: check that required fields came
	describing      // list the fields (docs and tests)
)

// cursor is the decoding state of one struct: the field under consideration
// and the fields seen so far.
type cursor struct {
	tag  uint16
	val  []byte // the current field's value
	rest []byte // the fields after the current one
	hit  bool   // a walk call claimed the current field
	seen uint64 // bit t: tag t was seen
}

type codec struct {
	mode   mode
	buf    []byte // encoding: the output
	cur    cursor
	err    error
	fields []fieldInfo // describing: the fields walked
}

// fieldInfo describes one field, for docs and tests.
type fieldInfo struct {
	Tag      uint16
	Name     string
	Wire     string
	Repeated bool
	Required bool
	Of       string      // the struct type of a struct-valued field
	Sub      []fieldInfo // its fields
}

// decodeStruct decodes the field sequence b into s. Decoding is driven by the
// input: each field is offered to s.walk, whose matching call takes it.
// Unknown tags are skipped unless critical.
func (c *codec) decodeStruct(b []byte, s schema) error {
	outer := c.cur
	defer func() { c.cur = outer }()
	c.cur = cursor{}
	for len(b) > 0 && c.err == nil {
		if len(b) < fieldHeaderSize {
			return &FieldError{Err: ErrTruncated}
		}
		tag, n := le.Uint16(b), le.Uint32(b[2:])
		if uint64(n) > uint64(len(b)-fieldHeaderSize) {
			return &FieldError{Tag: tag, Err: ErrTruncated}
		}
		end := fieldHeaderSize + int(n)
		c.cur.tag, c.cur.val, c.cur.rest, c.cur.hit = tag, b[fieldHeaderSize:end], b[end:], false
		if tag == 0 {
			return &FieldError{Err: ErrBadTag}
		}
		s.walk(c)
		if !c.cur.hit && c.err == nil && tag&criticalTag != 0 {
			return &FieldError{Tag: tag, Err: ErrUnknownCritical}
		}
		b = c.cur.rest
	}
	if c.err == nil {
		c.mode = finishing
		s.walk(c)
		c.mode = decoding
	}
	// Hand the error to the caller, which prefixes the path of the field
	// that holds this struct.
	err := c.err
	c.err = nil
	return err
}

// match reports whether the field being decoded has this tag, claims it, and
// rejects a second occurrence of a field that is not repeated.
func (c *codec) match(tag uint16, name string, repeated bool) bool {
	if c.err != nil || c.cur.tag != tag {
		return false
	}
	c.cur.hit = true
	if !repeated {
		bit := uint64(1) << (tag & maxKnownTag)
		if c.cur.seen&bit != 0 {
			c.fail(name, ErrDuplicate)
			return false
		}
		c.cur.seen |= bit
	}
	return true
}

// fail records the first error, naming the field.
func (c *codec) fail(name string, err error) {
	if c.err == nil {
		c.err = &FieldError{Field: name, Tag: c.cur.tag, Err: err}
	}
}

// failInside records err from a struct-valued field, prefixing its path.
func (c *codec) failInside(name string, err error) {
	if c.err != nil {
		return
	}
	var fe *FieldError
	if !errors.As(err, &fe) {
		c.err = err
		return
	}
	path := name
	if fe.Field != "" {
		path += "." + fe.Field
	}
	c.err = &FieldError{Field: path, Tag: fe.Tag, Err: fe.Err}
}

func (c *codec) head(tag uint16, n int) {
	c.buf = le.AppendUint16(c.buf, tag)
	c.buf = le.AppendUint32(c.buf, uint32(n))
}

func (c *codec) describe(f fieldInfo) {
	c.fields = append(c.fields, f)
}

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
	for i := 0; i < size; i++ {
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
		if len(*p) > 0 {
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
