package proto

import (
	"fmt"
	"reflect"
	"sync"
)

// Message is one record of the control protocol: a request id and a body.
type Message struct {
	// ID is the request id. A request takes the next id of its sender's
	// space (see SupervisorBit); a reply (HelloReply, Ack, Error,
	// RetrieveReply, CompatReply) carries the id of its request. Never 0.
	ID uint64
	// Body is one of the message structs of this package, by pointer:
	// *Hello, *ReturnCont, ...
	Body Body
}

// Body is implemented by the message structs of this package, and only by
// them.
type Body interface {
	// Type returns the message's type.
	Type() Type
	schema
	// check enforces the rules across fields that make the body valid.
	check() error
	// fds returns how many descriptors travel with the body.
	fds() int
}

// Encode encodes m as one record: header and inline payload. Descriptors are
// not part of it: the sender attaches them in order (see the message's
// fields), and the header declares their count. A message whose payload
// exceeds MaxPayload gives ErrTooLarge: send it with EncodeMemfd instead.
// Encode rejects everything that Decode would reject.
func Encode(m Message) ([]byte, error) {
	scratch := getScratch()
	defer putScratch(scratch)
	h, payload, err := encodePayload(m, scratch)
	if err != nil {
		return nil, err
	}
	if h.Length > MaxPayload {
		return nil, fmt.Errorf("encode %v: payload of %d bytes > %d, send it in a memfd: %w",
			h.Type, h.Length, MaxPayload, ErrTooLarge)
	}
	rec := make([]byte, 0, HeaderSize+len(payload))
	return append(appendHeader(rec, h), payload...), nil
}

// EncodeMemfd encodes m for sending with its payload in a memfd. record is
// the header alone, with FlagPayloadMemfd set and one more descriptor
// declared; payload is what the sender writes into a memfd, which it then
// seals (F_SEAL_SHRINK, F_SEAL_GROW, F_SEAL_WRITE) and attaches as the
// record's last descriptor, after the message's own.
func EncodeMemfd(m Message) (record, payload []byte, err error) {
	scratch := getScratch()
	defer putScratch(scratch)
	h, p, err := encodePayload(m, scratch)
	if err != nil {
		return nil, nil, err
	}
	if h.Length > MaxMemfdPayload {
		return nil, nil, fmt.Errorf("encode %v: payload of %d bytes > %d: %w",
			h.Type, h.Length, MaxMemfdPayload, ErrTooLarge)
	}
	if h.FDs >= MaxFDs {
		return nil, nil, fmt.Errorf("encode %v: %d descriptors and a memfd: %w", h.Type, h.FDs, ErrTooManyFDs)
	}
	h.Flags |= FlagPayloadMemfd
	h.FDs++
	return appendHeader(make([]byte, 0, HeaderSize), h), append([]byte(nil), p...), nil
}

// scratchPool holds payload buffers for Encode and EncodeMemfd, which copy
// the result out at its exact size.
var scratchPool = sync.Pool{New: func() any { return new([]byte) }}

func getScratch() *[]byte { return scratchPool.Get().(*[]byte) }

// putScratch keeps buffers up to a record's size; larger ones (memfd
// payloads) go to the garbage collector.
func putScratch(b *[]byte) {
	if cap(*b) <= MaxMessageSize {
		scratchPool.Put(b)
	}
}

// encodePayload validates m and encodes its payload into *scratch, returning
// the header that describes it and the payload, which lives in the (grown)
// scratch buffer.
func encodePayload(m Message, scratch *[]byte) (Header, []byte, error) {
	if m.Body == nil || reflect.ValueOf(m.Body).IsNil() {
		return Header{}, nil, fmt.Errorf("encode: %w: no body", ErrInvalid)
	}
	t := m.Body.Type()
	if m.ID == 0 {
		return Header{}, nil, fmt.Errorf("encode %v: %w: 0", t, ErrBadID)
	}
	if err := t.checkID(m.ID); err != nil {
		return Header{}, nil, fmt.Errorf("encode %v: %w", t, err)
	}
	if err := m.Body.check(); err != nil {
		return Header{}, nil, fmt.Errorf("encode %v: %w", t, err)
	}
	c := codec{mode: encoding, buf: (*scratch)[:0]}
	m.Body.walk(&c)
	*scratch = c.buf[:0] // keep the grown buffer for the next call
	if c.err != nil {
		return Header{}, nil, fmt.Errorf("encode %v: %w", t, c.err)
	}
	n := len(c.buf)
	if n > MaxMemfdPayload {
		return Header{}, nil, fmt.Errorf("encode %v: payload of %d bytes > %d: %w", t, n, MaxMemfdPayload, ErrTooLarge)
	}
	h := Header{Version: Version, Type: t, FDs: m.Body.fds(), ID: m.ID, Length: uint32(n)}
	if h.FDs > MaxFDs {
		return Header{}, nil, fmt.Errorf("encode %v: %w: %d", t, ErrTooManyFDs, h.FDs)
	}
	return h, c.buf, nil
}

// Decode decodes the record b (header and inline payload). The message never
// aliases b. A record whose payload is in a memfd gives ErrPayloadInMemfd:
// read the memfd (the last descriptor) and call DecodeMemfd.
func Decode(b []byte) (Message, error) {
	h, err := DecodeHeader(b)
	if err != nil {
		return Message{}, err
	}
	if h.Flags&FlagPayloadMemfd != 0 {
		return Message{}, fmt.Errorf("decode %v %d: %w", h.Type, h.ID, ErrPayloadInMemfd)
	}
	return decodeBody(h, b[HeaderSize:])
}

// DecodeMemfd decodes a record with FlagPayloadMemfd, given the content of
// its memfd. The receiver has checked the memfd's seals and read exactly the
// header's Length bytes; the message never aliases payload.
func DecodeMemfd(record, payload []byte) (Message, error) {
	h, err := DecodeHeader(record)
	if err != nil {
		return Message{}, err
	}
	if h.Flags&FlagPayloadMemfd == 0 {
		return Message{}, fmt.Errorf("decode %v %d: %w", h.Type, h.ID, ErrNotMemfd)
	}
	if uint64(len(payload)) != uint64(h.Length) {
		return Message{}, fmt.Errorf("decode %v %d: %w: header says %d bytes, memfd has %d",
			h.Type, h.ID, ErrLength, h.Length, len(payload))
	}
	return decodeBody(h, payload)
}

func decodeBody(h Header, payload []byte) (Message, error) {
	info, ok := types[h.Type]
	if !ok {
		return Message{}, fmt.Errorf("decode %v %d: %w", h.Type, h.ID, ErrUnknownType)
	}
	if err := h.Type.checkID(h.ID); err != nil {
		return Message{}, fmt.Errorf("decode %v: %w", h.Type, err)
	}
	body := info.body()
	c := codec{mode: decoding}
	if err := c.decodeStruct(payload, body); err != nil {
		return Message{}, fmt.Errorf("decode %v %d: %w", h.Type, h.ID, err)
	}
	if err := body.check(); err != nil {
		return Message{}, fmt.Errorf("decode %v %d: %w", h.Type, h.ID, err)
	}
	want := body.fds()
	if h.Flags&FlagPayloadMemfd != 0 {
		want++
	}
	if want != h.FDs {
		return Message{}, fmt.Errorf("decode %v %d: %w: header declares %d, message has %d",
			h.Type, h.ID, ErrFDCount, h.FDs, want)
	}
	return Message{ID: h.ID, Body: body}, nil
}
