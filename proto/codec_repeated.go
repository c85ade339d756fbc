package proto

import (
	"reflect"
	"strconv"
)

// MaxItems bounds every repeated field except slots, which MaxFDs bounds.
const MaxItems = 1 << 16

// grow prepares the slice *s for one more decoded element of the current
// field. On the first element it counts the occurrences of the tag in the
// rest of the struct and allocates exactly that many, so decoding never
// allocates more elements than the input holds; more than max is an error
// before any allocation.
func grow[T any](c *codec, fname string, s *[]T, max int) bool {
	if *s == nil {
		n := 1 + countTag(c.cur.rest, c.cur.tag)
		if n > max {
			c.fail(fname, ErrTooMany)
			return false
		}
		*s = make([]T, 0, n)
	}
	if len(*s) >= max {
		c.fail(fname, ErrTooMany)
		return false
	}
	return true
}

// countTag counts the fields with this tag in the field sequence b, stopping
// at the first malformed field header (which decoding reports in turn).
func countTag(b []byte, tag uint16) int {
	n := 0
	for len(b) >= fieldHeaderSize {
		size := le.Uint32(b[2:])
		if uint64(size) > uint64(len(b)-fieldHeaderSize) {
			break
		}
		if le.Uint16(b) == tag {
			n++
		}
		b = b[fieldHeaderSize+int(size):]
	}
	return n
}

// nums is a repeated integer field: one field per element, in order.
func nums[T integer](c *codec, tag uint16, fname string, p *[]T, max int) {
	switch c.mode {
	case encoding:
		if c.err != nil {
			return
		}
		if len(*p) > max {
			c.err = &FieldError{Field: fname, Tag: tag, Err: ErrTooMany}
			return
		}
		for i := range *p {
			required(c, tag, fname, &(*p)[i])
		}
	case decoding:
		if !c.match(tag, fname, true) || !grow(c, fname, p, max) {
			return
		}
		var v T
		if decodeFixed(c, fname, &v); c.err == nil {
			*p = append(*p, v)
		}
	case describing:
		var v T
		sub := codec{mode: describing}
		required(&sub, tag, fname, &v)
		f := sub.fields[0]
		f.Repeated, f.Required = true, false
		c.describe(f)
	}
}

// ptrSchema is a pointer to T that has the schema of T's fields.
type ptrSchema[T any] interface {
	*T
	schema
}

// structs is a repeated struct-valued field: one field per element, whose
// value is the element's own field sequence.
func structs[T any, P ptrSchema[T]](c *codec, tag uint16, fname string, p *[]T, max int) {
	switch c.mode {
	case encoding:
		if c.err != nil {
			return
		}
		if len(*p) > max {
			c.err = &FieldError{Field: fname, Tag: tag, Err: ErrTooMany}
			return
		}
		for i := range *p {
			c.nested(tag, fname, i, P(&(*p)[i]))
		}
	case decoding:
		if !c.match(tag, fname, true) || !grow(c, fname, p, max) {
			return
		}
		*p = append(*p, *new(T))
		i := len(*p) - 1
		if err := c.decodeStruct(c.cur.val, P(&(*p)[i])); err != nil {
			c.failInside(indexed(fname, i), err)
		}
	case describing:
		c.describe(describeStruct[T, P](tag, fname, true))
	}
}

// optional is a struct-valued field that may be absent (nil).
func optional[T any, P ptrSchema[T]](c *codec, tag uint16, fname string, p **T) {
	switch c.mode {
	case encoding:
		if *p != nil {
			c.nested(tag, fname, -1, P(*p))
		}
	case decoding:
		if !c.match(tag, fname, false) {
			return
		}
		v := new(T)
		if err := c.decodeStruct(c.cur.val, P(v)); err != nil {
			c.failInside(fname, err)
			return
		}
		*p = v
	case describing:
		c.describe(describeStruct[T, P](tag, fname, false))
	}
}

// nested encodes s as the value of one field; i is its index when the field
// is repeated, -1 otherwise.
func (c *codec) nested(tag uint16, fname string, i int, s schema) {
	if c.err != nil {
		return
	}
	c.head(tag, 0)
	start := len(c.buf)
	s.walk(c)
	if c.err != nil {
		err := c.err
		c.err = nil
		c.failInside(indexed(fname, i), err)
		return
	}
	n := len(c.buf) - start
	if n > MaxMemfdPayload {
		c.err = &FieldError{Field: indexed(fname, i), Tag: tag, Err: ErrFieldSize}
		return
	}
	le.PutUint32(c.buf[start-4:], uint32(n))
}

// indexed returns the path of element i of a repeated field, or fname when i
// is negative.
func indexed(fname string, i int) string {
	if i < 0 {
		return fname
	}
	return fname + "[" + strconv.Itoa(i) + "]"
}

func describeStruct[T any, P ptrSchema[T]](tag uint16, fname string, repeated bool) fieldInfo {
	sub := codec{mode: describing}
	P(new(T)).walk(&sub)
	return fieldInfo{
		Tag: tag, Name: fname, Wire: "struct", Repeated: repeated,
		Of: reflect.TypeFor[T]().Name(), Sub: sub.fields,
	}
}
