package proto

import (
	"bytes"
	"encoding/binary"
	"reflect"
	"testing"
)

// maxFootprintPerByte bounds the memory a decoded message may hold per byte
// of input: the worst case is an empty store entry, 6 bytes of input for a
// 48-byte Entry.
const maxFootprintPerByte = 8

// FuzzDecode checks that Decode never panics, that what it accepts is
// bounded by the input and survives a round trip: it re-encodes, decodes to
// an equal message, and re-encodes to the same bytes.
func FuzzDecode(f *testing.F) {
	for _, m := range append(samples(), benchCont()) {
		b, err := Encode(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{})
	f.Add(record(TypeHello, 1, 0, field(0x8001, nil)))
	f.Fuzz(func(t *testing.T, b []byte) {
		checkDecode(t, b)
		// Most mutations break the header's length and stop there; fixed
		// up, the same bytes reach the payload decoder.
		if len(b) >= HeaderSize && len(b)-HeaderSize <= MaxPayload {
			fixed := append([]byte(nil), b...)
			binary.LittleEndian.PutUint32(fixed[16:], uint32(len(b)-HeaderSize))
			checkDecode(t, fixed)
		}
	})
}

// checkDecode decodes b; when that works it checks the round trip and the
// footprint of the result.
func checkDecode(t *testing.T, b []byte) {
	t.Helper()
	m, err := Decode(b)
	if err != nil {
		if m.Body != nil || m.ID != 0 {
			t.Fatalf("Decode failed (%v) but returned %+v", err, m)
		}
		if c := CodeOf(err); c == CodeInternal || c == 0 {
			t.Fatalf("Decode error %v maps to code %v", err, c)
		}
		return
	}
	if fp := footprint(reflect.ValueOf(m.Body)); fp > maxFootprintPerByte*len(b)+512 {
		t.Fatalf("%d-byte record decoded to a %d-byte message", len(b), fp)
	}
	b2, err := Encode(m)
	if err != nil {
		t.Fatalf("Encode of a decoded %v: %v", m.Body.Type(), err)
	}
	m2, err := Decode(b2)
	if err != nil {
		t.Fatalf("Decode of a re-encoded %v: %v", m.Body.Type(), err)
	}
	if !reflect.DeepEqual(m, m2) {
		t.Fatalf("round trip changed the message:\n%#v\n%#v", m.Body, m2.Body)
	}
	if b3, err := Encode(m2); err != nil || !bytes.Equal(b2, b3) {
		t.Fatalf("re-encoding is not stable: %v", err)
	}
	if n, err := DeclaredFDs(b); err != nil || n != m.Body.fds() {
		t.Fatalf("DeclaredFDs = %d, %v; message carries %d", n, err, m.Body.fds())
	}
}

// footprint estimates the bytes v holds: its own size plus what its
// pointers, slices and strings reach (by capacity).
func footprint(v reflect.Value) int {
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return 0
		}
		return int(v.Type().Elem().Size()) + inner(v.Elem())
	}
	return int(v.Type().Size()) + inner(v)
}

// inner is what v reaches beyond its own size.
func inner(v reflect.Value) int {
	n := 0
	switch v.Kind() {
	case reflect.String:
		n = v.Len()
	case reflect.Slice:
		n = v.Cap() * int(v.Type().Elem().Size())
		switch v.Type().Elem().Kind() {
		case reflect.String, reflect.Slice, reflect.Struct, reflect.Pointer:
			for i := range v.Len() {
				n += inner(v.Index(i))
			}
		}
	case reflect.Struct:
		for i := range v.NumField() {
			n += inner(v.Field(i))
		}
	case reflect.Pointer:
		n = footprint(v)
	}
	return n
}

// Cutting a record anywhere gives an error, never a panic. Cutting the
// payload and fixing the header's length gives ErrTruncated unless the cut
// falls between two top-level fields, where a shorter message may be valid.
func TestTruncationAtEveryOffset(t *testing.T) {
	for _, m := range append(samples(), benchCont()) {
		b := mustEncode(t, m)
		for n := range len(b) {
			if _, err := Decode(b[:n]); err == nil {
				t.Fatalf("%v cut to %d of %d bytes decoded", m.Body.Type(), n, len(b))
			}
		}
		bounds := fieldBounds(b[HeaderSize:])
		for n := range len(b) - HeaderSize {
			cut := append([]byte(nil), b[:HeaderSize+n]...)
			binary.LittleEndian.PutUint32(cut[16:], uint32(n))
			if bounds[n] {
				checkDecode(t, cut)
				continue
			}
			if _, err := Decode(cut); CodeOf(err) != CodeBadMessage {
				t.Fatalf("%v payload cut to %d bytes: err = %v, want a truncation", m.Body.Type(), n, err)
			}
		}
	}
}

// fieldBounds returns the offsets in payload where a top-level field starts.
func fieldBounds(payload []byte) map[int]bool {
	bounds := map[int]bool{0: true}
	for off := 0; off+fieldHeaderSize <= len(payload); {
		off += fieldHeaderSize + int(binary.LittleEndian.Uint32(payload[off+2:]))
		bounds[off] = true
	}
	return bounds
}

// Flipping any single bit of a valid record never panics; what still decodes
// round-trips. Flips in the magic, version, length and reserved bytes always
// fail. (The samples hold every field; FuzzDecode goes further.)
func TestBitFlips(t *testing.T) {
	for _, m := range samples() {
		b := mustEncode(t, m)
		for i := range 8 * len(b) {
			flipped := append([]byte(nil), b...)
			flipped[i/8] ^= 1 << (i % 8)
			checkDecode(t, flipped)
			if byteIdx := i / 8; byteIdx <= 2 || byteIdx >= 16 && byteIdx < HeaderSize {
				if _, err := Decode(flipped); err == nil {
					t.Fatalf("%v with bit %d of header byte %d flipped decoded", m.Body.Type(), i%8, byteIdx)
				}
			}
		}
	}
}
