package contstore

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"testing"
)

// Run one for longer with:
//
//	go test -run '^$' -fuzz '^FuzzDecodeRecord$' -fuzzminimizetime 5s ./contstore/

func FuzzDecodeRecord(f *testing.F) {
	for _, c := range []Continuation{
		fullContinuation("sshd", 1),
		smallContinuation("web", 2, StateSuspending),
		{App: "a", Session: 3, Kind: KindSystem, State: StateSuspended}, // no slots, no store
	} {
		_, val, err := newRecord(&c)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(val)
		f.Add(val[:len(val)/2])
	}
	f.Add([]byte{recordFormat, 0, 2, '{', '}'})
	f.Add(append([]byte{recordFormat, 0, 9}, `{"id":"7"}`...)) // an ID in the value is ignored: the key is the ID
	f.Add([]byte{recordFormat, 0xff, 0xff, 0xff, 0xff, 0x0f, 2, '{', '}', 0x28, 0xb5, 0x2f, 0xfd})
	const key = ID(42)
	f.Fuzz(func(t *testing.T, val []byte) {
		c, err := decodeRecord(key, val, true)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("decode error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		if c.ID != key {
			t.Fatalf("decoded ID %s, want the key %s", c.ID, key)
		}
		// Whatever decodes encodes again, and from then on the encoding is
		// stable.
		again, err := encodeRecord(&c)
		if err != nil {
			t.Fatalf("decoded record does not encode: %v", err)
		}
		c2, err := decodeRecord(key, again, true)
		if err != nil {
			t.Fatalf("re-encoded record does not decode: %v", err)
		}
		third, err := encodeRecord(&c2)
		if err != nil || !bytes.Equal(again, third) {
			t.Fatalf("encoding is not stable: %v", err)
		}
	})
}

func FuzzDecodeStore(f *testing.F) {
	f.Add(encodeStore(sampleStore(1, 512)))
	f.Add(encodeStore([]Entry{{Key: "k", Value: nil, Exported: true}}))
	f.Add([]byte{1, 0, 0, 2})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, raw []byte) {
		entries, err := decodeStore(raw)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("decode error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		back, err := decodeStore(encodeStore(entries))
		if err != nil || !reflect.DeepEqual(back, entries) {
			t.Fatalf("entries do not survive encoding: %v", err)
		}
	})
}

// FuzzParseID checks that ParseID accepts exactly the canonical decimal
// form of a non-zero u64: whatever it accepts prints back as the same text,
// and it agrees with strconv.ParseUint on the canonical forms.
func FuzzParseID(f *testing.F) {
	for _, seed := range []string{
		"1", "42", "18446744073709551615", "18446744073709551616", "0", "007",
		"-1", "+1", " 1", "1 ", "", "1_000", "0x10", "\u0661",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := ParseID(s)
		n, perr := strconv.ParseUint(s, 10, 64)
		canonical := perr == nil && n != 0 && strconv.FormatUint(n, 10) == s
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("parse error %v does not wrap ErrInvalid", err)
			}
			if canonical {
				t.Fatalf("ParseID(%q) refused a canonical id: %v", s, err)
			}
			return
		}
		if !canonical || uint64(id) != n {
			t.Fatalf("ParseID(%q) = %d, which is not the canonical form (strconv: %d, %v)", s, id, n, perr)
		}
		if id.String() != s {
			t.Fatalf("ParseID(%q).String() = %q", s, id.String())
		}
	})
}

// FuzzOpen opens arbitrary file contents read-only and, if that works,
// reads everything: nothing may crash, and every failure is ErrCorrupt or
// ErrSchema.
func FuzzOpen(f *testing.F) {
	path := filepath.Join(f.TempDir(), "seed.db")
	s, err := Open(path, Options{})
	if err != nil {
		f.Fatal(err)
	}
	sess := Session{App: "sshd", State: SessionActive}
	if err := s.PutSession(&sess); err != nil {
		f.Fatal(err)
	}
	c := fullContinuation("sshd", sess.ID)
	if err := s.Put(&c); err != nil {
		f.Fatal(err)
	}
	s.Close()
	seed, err := os.ReadFile(path)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Add(seed[:len(seed)/2])
	f.Fuzz(func(t *testing.T, content []byte) {
		path := filepath.Join(t.TempDir(), "fuzz.db")
		if err := os.WriteFile(path, content, 0o600); err != nil {
			t.Fatal(err)
		}
		s, err := Open(path, Options{ReadOnly: true})
		if err != nil {
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrSchema) {
				t.Fatalf("Open: %v, want ErrCorrupt or ErrSchema", err)
			}
			return
		}
		defer s.Close()
		for _, err := range []error{s.Check(), func() error { _, err := s.List(Filter{}); return err }()} {
			if err != nil && !errors.Is(err, ErrCorrupt) {
				t.Fatalf("reading an opened fuzz file: %v, want nil or ErrCorrupt", err)
			}
		}
	})
}
