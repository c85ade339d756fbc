package contstore

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/klauspost/compress/zstd"
)

// A continuation is stored as one bbolt value:
//
//	byte     format (1)
//	uvarint  raw store length (StoreRawBytes)
//	uvarint  JSON length
//	bytes    the record as JSON, without ID (the key), Store and the
//	         derived counts
//	bytes    the serialized store, one zstd frame (empty when the store is)
//
// The serialized store is a uvarint entry count, then per entry a uvarint
// key length, the key, a uvarint value length, the value and a flags byte
// (bit 0: Exported). Keeping the compressed store outside the JSON lets
// Transition rewrite the header without recompressing, and List and Stats
// read sizes without decompressing. Leaving the ID out lets Put encode (and
// compress) before its transaction, inside which the ID is assigned.
const recordFormat = 1

// MaxStoreBytes bounds a continuation's serialized store before compression;
// Put refuses a larger one and decoding refuses to inflate past it.
const MaxStoreBytes = 64 << 20

var codec = sync.OnceValues(func() (*zstd.Encoder, *zstd.Decoder) {
	// EncodeAll and DecodeAll are safe for concurrent use and start no
	// goroutines; the options cannot fail.
	enc, _ := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedDefault))
	dec, _ := zstd.NewReader(nil, zstd.WithDecoderMaxMemory(MaxStoreBytes))
	return enc, dec
})

// encodeRecord serializes c, all but its ID. It sets c's derived counts as
// a side effect: the caller works on its own copy.
func encodeRecord(c *Continuation) ([]byte, error) {
	raw := encodeStore(c.Store)
	var packed []byte
	if len(raw) > 0 {
		enc, _ := codec()
		packed = enc.EncodeAll(raw, nil)
	}
	c.FDsBefore = len(c.Slots)
	c.StoreRawBytes = len(raw)
	c.StoreCompressedBytes = len(packed)
	js, err := marshalHeader(c)
	if err != nil {
		return nil, err
	}
	return frame(len(raw), js, packed), nil
}

// marshalHeader is the JSON part: c without its ID (the key), without Store
// and without the counts decoding derives (FDsBefore from Slots, the sizes
// from the framing).
func marshalHeader(c *Continuation) ([]byte, error) {
	h := *c
	h.ID, h.Store, h.FDsBefore, h.StoreRawBytes, h.StoreCompressedBytes = 0, nil, 0, 0, 0
	js, err := json.Marshal(&h)
	if err != nil {
		return nil, fmt.Errorf("encode continuation: %w", err)
	}
	return js, nil
}

func frame(rawLen int, js, packed []byte) []byte {
	out := make([]byte, 0, 1+2*binary.MaxVarintLen64+len(js)+len(packed))
	out = append(out, recordFormat)
	out = binary.AppendUvarint(out, uint64(rawLen))
	out = binary.AppendUvarint(out, uint64(len(js)))
	out = append(out, js...)
	return append(out, packed...)
}

// framed is a stored value split into its parts; the slices alias the value.
type framed struct {
	rawLen int
	json   []byte
	packed []byte
}

func unframe(val []byte) (framed, error) {
	if len(val) == 0 || val[0] != recordFormat {
		return framed{}, fmt.Errorf("%w: record format byte is not %d", ErrCorrupt, recordFormat)
	}
	r := reader{b: val[1:]}
	raw, jsLen := r.uvarint(), r.uvarint()
	js := r.bytes(jsLen)
	if r.err != nil {
		return framed{}, fmt.Errorf("%w: record framing: %v", ErrCorrupt, r.err)
	}
	if raw > MaxStoreBytes || (raw == 0) != (len(r.b) == 0) {
		return framed{}, fmt.Errorf("%w: record framing: store of %d bytes packed into %d", ErrCorrupt, raw, len(r.b))
	}
	return framed{rawLen: int(raw), json: js, packed: r.b}, nil
}

// decodeRecord parses the value stored under id. Without withStore it
// leaves Store nil and skips decompression; the sizes are set either way.
func decodeRecord(id ID, val []byte, withStore bool) (Continuation, error) {
	f, err := unframe(val)
	if err != nil {
		return Continuation{}, err
	}
	return f.decode(id, withStore)
}

func (f framed) decode(id ID, withStore bool) (c Continuation, err error) {
	if err := json.Unmarshal(f.json, &c); err != nil {
		return Continuation{}, fmt.Errorf("%w: record JSON: %v", ErrCorrupt, err)
	}
	c.ID, c.Store = id, nil
	c.FDsBefore = len(c.Slots)
	c.StoreRawBytes = f.rawLen
	c.StoreCompressedBytes = len(f.packed)
	if withStore && f.rawLen > 0 {
		if c.Store, err = inflateStore(f.packed, f.rawLen); err != nil {
			return Continuation{}, err
		}
	}
	return c, nil
}

func inflateStore(packed []byte, rawLen int) ([]Entry, error) {
	_, dec := codec()
	// The header's length sizes the buffer, but only up to a bound: a
	// damaged header must not allocate MaxStoreBytes up front.
	raw, err := dec.DecodeAll(packed, make([]byte, 0, min(rawLen, 1<<20)))
	if err != nil {
		return nil, fmt.Errorf("%w: decompress store: %v", ErrCorrupt, err)
	}
	if len(raw) != rawLen {
		return nil, fmt.Errorf("%w: store inflates to %d bytes, header says %d", ErrCorrupt, len(raw), rawLen)
	}
	return decodeStore(raw)
}

func encodeStore(entries []Entry) []byte {
	if len(entries) == 0 {
		return nil
	}
	n := binary.MaxVarintLen64
	for _, e := range entries {
		n += 2*binary.MaxVarintLen64 + len(e.Key) + len(e.Value) + 1
	}
	out := make([]byte, 0, n)
	out = binary.AppendUvarint(out, uint64(len(entries)))
	for _, e := range entries {
		out = binary.AppendUvarint(out, uint64(len(e.Key)))
		out = append(out, e.Key...)
		out = binary.AppendUvarint(out, uint64(len(e.Value)))
		out = append(out, e.Value...)
		var flags byte
		if e.Exported {
			flags = 1
		}
		out = append(out, flags)
	}
	return out
}

// minEntryBytes is the smallest serialized entry: two zero lengths and flags.
const minEntryBytes = 3

func decodeStore(raw []byte) ([]Entry, error) {
	r := reader{b: raw}
	n := r.uvarint()
	if r.err == nil && (n == 0 || n > uint64(len(r.b)/minEntryBytes)) {
		return nil, fmt.Errorf("%w: store claims %d entries in %d bytes", ErrCorrupt, n, len(r.b))
	}
	entries := make([]Entry, 0, n)
	for i := uint64(0); i < n && r.err == nil; i++ {
		key := r.bytes(r.uvarint())
		value := r.bytes(r.uvarint())
		flags := r.bytes(1)
		if r.err == nil && flags[0] > 1 {
			return nil, fmt.Errorf("%w: store entry %d: unknown flags %#x", ErrCorrupt, i, flags[0])
		}
		entries = append(entries, Entry{Key: string(key), Value: append([]byte{}, value...), Exported: r.err == nil && flags[0] == 1})
	}
	if r.err == nil && len(r.b) != 0 {
		r.err = fmt.Errorf("%d bytes after the last entry", len(r.b))
	}
	if r.err != nil {
		return nil, fmt.Errorf("%w: store: %v", ErrCorrupt, r.err)
	}
	return entries, nil
}

// reader consumes a byte slice; the first error sticks and makes every
// later read return zero values.
type reader struct {
	b   []byte
	err error
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = errors.New("bad varint")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) bytes(n uint64) []byte {
	if r.err != nil {
		return nil
	}
	if n > uint64(len(r.b)) {
		r.err = fmt.Errorf("need %d bytes, have %d", n, len(r.b))
		return nil
	}
	out := r.b[:n:n]
	r.b = r.b[n:]
	return out
}
