package proto

import (
	"fmt"
	"runtime"
	"testing"
)

// Decoding allocates in proportion to its input, even for inputs built to
// make a decoder allocate: many empty repeated fields, many distinct keys,
// fields far longer than the record.
func TestDecodeAllocationBounded(t *testing.T) {
	repeat := func(n int, f []byte) []byte {
		var b []byte
		for range n {
			b = append(b, f...)
		}
		return b
	}
	exec := cat(field(3, []byte("/")), field(4, u32v(0)), field(5, u32v(0)))
	room := MaxPayload - 64
	keys := func() []byte {
		var b []byte
		for i := 0; len(b) < room-32; i++ {
			b = append(b, field(5, field(1, []byte(fmt.Sprint(i))))...)
		}
		return b
	}
	tests := []struct {
		name    string
		rec     []byte
		decodes bool
	}{
		{"empty slots", record(TypeReturnCont, 1, MaxFDs, cat(field(1, u64v(1)), field(3, u8v(1)), repeat(MaxFDs, field(4, nil)))), false},
		{"empty store entries", record(TypeReturnCont, 1, 0, cat(field(1, u64v(1)), field(3, u8v(1)), repeat(room/6, field(5, nil)))), false},
		{"distinct keys", record(TypeReturnCont, 1, 0, cat(field(1, u64v(1)), field(3, u8v(1)), keys())), true},
		{"empty args", record(TypeReturnCont, 1, 0, cat(field(1, u64v(1)), field(3, u8v(3)), field(8, cat(exec, repeat(room/6-4, field(1, nil)))))), false},
		{"groups", record(TypeReturnCont, 1, 0, cat(field(1, u64v(1)), field(3, u8v(3)), field(8, cat(field(1, []byte("/x")), exec, repeat(room/10-4, field(6, u32v(1))))))), true},
		{"dependencies", record(TypeGetSession, 1, 1, cat(field(1, u32v(3)), repeat(room/14, field(3, u64v(1))))), false},
		{"length claims 4 GiB", record(TypeStore, 1, 0, []byte{4, 0, 0xff, 0xff, 0xff, 0xff}), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Decode(tt.rec); (err == nil) != tt.decodes {
				t.Fatalf("Decode: err = %v, want success %v", err, tt.decodes)
			}
			perRun := allocatedBytes(func() { _, _ = Decode(tt.rec) })
			t.Logf("%d-byte record: %d bytes allocated (%.1f per input byte)", len(tt.rec), perRun, float64(perRun)/float64(len(tt.rec)))
			if limit := uint64(maxAllocPerByte*len(tt.rec) + 4096); perRun > limit {
				t.Errorf("decoding a %d-byte record allocated %d bytes, more than %d", len(tt.rec), perRun, limit)
			}
		})
	}
}

// maxAllocPerByte bounds what Decode allocates per byte of input: the
// message's footprint (maxFootprintPerByte) plus the duplicate check's map.
const maxAllocPerByte = 12

// allocatedBytes returns the bytes f allocates per call, averaged.
func allocatedBytes(f func()) uint64 {
	const runs = 20
	f() // warm up
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for range runs {
		f()
	}
	runtime.ReadMemStats(&after)
	return (after.TotalAlloc - before.TotalAlloc) / runs
}
