package proto

import (
	"encoding/binary"
	"errors"
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

// head appends a field header for tag with an n-byte value.
func (c *codec) head(tag uint16, n int) {
	c.buf = append(c.buf, byte(tag), byte(tag>>8), byte(n), byte(n>>8), byte(n>>16), byte(n>>24))
}

func (c *codec) describe(f fieldInfo) {
	c.fields = append(c.fields, f)
}
