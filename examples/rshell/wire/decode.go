package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// A Decoder splits a byte stream into frames. The zero value is ready.
type Decoder struct {
	buf []byte // buf[off:] are the bytes not handed out yet
	off int
	err error // sticky: the stream cannot be followed past a bad header
}

// Feed appends bytes read from the stream. It invalidates the payloads of
// frames returned before.
func (d *Decoder) Feed(p []byte) {
	if d.off > 0 {
		n := copy(d.buf, d.buf[d.off:])
		d.buf, d.off = d.buf[:n], 0
	}
	d.buf = append(d.buf, p...)
}

// Next returns the next whole frame; ok is false when the bytes fed so far
// end inside one. A header of an unknown type or a length beyond
// MaxPayload is an error, and every later call returns it again.
func (d *Decoder) Next() (f Frame, ok bool, err error) {
	if d.err != nil {
		return Frame{}, false, d.err
	}
	rest := d.buf[d.off:]
	if len(rest) < HeaderSize {
		return Frame{}, false, nil
	}
	t, n := Type(rest[0]), binary.BigEndian.Uint32(rest[1:])
	switch {
	case !t.known():
		d.err = fmt.Errorf("decode frame: %w: %d", ErrUnknownType, uint8(t))
	case n > MaxPayload:
		d.err = fmt.Errorf("decode %v frame: %w: %d bytes, at most %d", t, ErrTooLarge, n, MaxPayload)
	}
	if d.err != nil {
		return Frame{}, false, d.err
	}
	if uint32(len(rest)-HeaderSize) < n {
		return Frame{}, false, nil
	}
	end := HeaderSize + int(n)
	d.off += end
	return Frame{Type: t, Payload: rest[HeaderSize:end:end]}, true, nil
}

// Buffered returns the bytes fed but not handed out as frames: a partial
// frame, or frames Next has not returned yet. The slice aliases the
// Decoder's buffer until the next Feed.
func (d *Decoder) Buffered() []byte { return d.buf[d.off:] }

// A Reader reads frames from a stream.
type Reader struct {
	r   io.Reader
	d   Decoder
	buf []byte
}

// NewReader reads frames from r.
func NewReader(r io.Reader) *Reader {
	return &Reader{r: r, buf: make([]byte, 32<<10)}
}

// Next returns the next frame. It returns io.EOF when the stream ends
// between frames, and an error wrapping io.ErrUnexpectedEOF when it ends
// inside one. The payload is valid until the next call.
func (r *Reader) Next() (Frame, error) {
	for {
		f, ok, err := r.d.Next()
		if err != nil || ok {
			return f, err
		}
		n, err := r.r.Read(r.buf)
		r.d.Feed(r.buf[:n])
		if n > 0 {
			continue
		}
		if errors.Is(err, io.EOF) && len(r.d.Buffered()) > 0 {
			return Frame{}, fmt.Errorf("read frame: %w: %d bytes of a frame", io.ErrUnexpectedEOF, len(r.d.Buffered()))
		}
		if err == nil {
			err = io.ErrNoProgress
		}
		return Frame{}, err
	}
}

// Buffered returns what the Reader read from the stream but has not
// returned as frames yet.
func (r *Reader) Buffered() []byte { return r.d.Buffered() }
