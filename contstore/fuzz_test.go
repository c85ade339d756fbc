package contstore

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// Run one for longer with:
//
//	go test -run '^$' -fuzz '^FuzzDecodeRecord$' -fuzzminimizetime 5s ./contstore/

func FuzzDecodeRecord(f *testing.F) {
	for _, c := range []Continuation{
		fullContinuation("sshd", "s1"),
		smallContinuation("web", "w1", StateSuspending),
		{App: "a", Session: "s", Kind: KindSystem, State: StateSuspended}, // no slots, no store
	} {
		_, val, err := newRecord(&c)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(val)
		f.Add(val[:len(val)/2])
	}
	f.Add([]byte{recordFormat, 0, 2, '{', '}'})
	f.Add([]byte{recordFormat, 0xff, 0xff, 0xff, 0xff, 0x0f, 2, '{', '}', 0x28, 0xb5, 0x2f, 0xfd})
	f.Fuzz(func(t *testing.T, val []byte) {
		c, err := decodeRecord(val, true)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("decode error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		// Whatever decodes encodes again, and from then on the encoding is
		// stable.
		again, err := encodeRecord(&c)
		if err != nil {
			t.Fatalf("decoded record does not encode: %v", err)
		}
		c2, err := decodeRecord(again, true)
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

func FuzzParseID(f *testing.F) {
	f.Add(NewID().String())
	f.Add(strings.ToLower(NewID().String()))
	f.Add("7ZZZZZZZZZZZZZZZZZZZZZZZZZ")
	f.Add("80000000000000000000000000")
	f.Add("0000000000000000000000000I")
	f.Fuzz(func(t *testing.T, s string) {
		id, err := ParseID(s)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("parse error %v does not wrap ErrInvalid", err)
			}
			return
		}
		if !strings.EqualFold(id.String(), s) {
			t.Fatalf("ParseID(%q).String() = %q", s, id.String())
		}
		if again, err := ParseID(id.String()); err != nil || again != id {
			t.Fatalf("the canonical form does not parse back: %v", err)
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
	if err := s.PutSession(Session{ID: "s1", App: "sshd", State: SessionActive}); err != nil {
		f.Fatal(err)
	}
	c := fullContinuation("sshd", "s1")
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
