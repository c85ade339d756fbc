package contstore

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestReadOnlyNeverCreates(t *testing.T) {
	checkNoFDLeak(t)
	path := filepath.Join(t.TempDir(), "missing.db")
	if _, err := Open(path, Options{ReadOnly: true}); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("read-only Open of a missing file: %v, want fs.ErrNotExist", err)
	}
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("read-only Open created the file: %v", err)
	}
	empty := filepath.Join(t.TempDir(), "empty.db")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(empty, Options{ReadOnly: true}); !errors.Is(err, ErrCorrupt) {
		t.Errorf("read-only Open of an empty file: %v, want ErrCorrupt", err)
	}
	if b := fileBytes(t, empty); len(b) != 0 {
		t.Errorf("read-only Open wrote %d bytes into an empty file", len(b))
	}
}

func TestReadOnlyInspection(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cont.db")
	put := makeStore(t, path, 2)
	content := fileBytes(t, path)
	checkNoFDLeak(t)

	a := openStore(t, path, Options{ReadOnly: true})
	b := openStore(t, path, Options{ReadOnly: true}) // readers share the lock
	for _, s := range []*Store{a, b} {
		got, err := s.Get(put[1].ID)
		if err != nil || !reflect.DeepEqual(got, put[1]) {
			t.Errorf("read-only Get = %+v, %v", got, err)
		}
		if list, err := s.List(Filter{App: "sshd"}); err != nil || len(list) != 2 {
			t.Errorf("read-only List: %d, %v", len(list), err)
		}
	}
	c := smallContinuation("sshd", put[0].Session, StateSuspended)
	for name, write := range map[string]func() error{
		"Put":           func() error { return a.Put(&c) },
		"Delete":        func() error { return a.Delete(put[0].ID) },
		"Transition":    func() error { return a.Transition(put[0].ID, StateSuspended, StateDropped) },
		"PutSession":    func() error { return a.PutSession(&Session{App: "sshd", State: SessionActive}) },
		"DeleteSession": func() error { return a.DeleteSession(put[0].Session) },
		"PutCompat":     func() error { return a.PutCompat("sshd", nil) },
		"SetMeta":       func() error { return a.SetMeta("boot-id", []byte("x")) },
	} {
		if err := write(); !errors.Is(err, ErrReadOnly) {
			t.Errorf("read-only %s: %v, want ErrReadOnly", name, err)
		}
	}
	if c.ID != 0 {
		t.Error("a refused Put assigned an ID")
	}
	if !bytes.Equal(content, fileBytes(t, path)) {
		t.Error("a read-only store changed the file")
	}
}

func TestClosedStore(t *testing.T) {
	checkNoFDLeak(t)
	s, err := Open(filepath.Join(t.TempDir(), "cont.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	c := smallContinuation("app", 1, StateSuspended)
	if err := s.Put(&c); !errors.Is(err, ErrClosed) {
		t.Errorf("Put after Close: %v, want ErrClosed", err)
	}
	if _, err := s.List(Filter{}); !errors.Is(err, ErrClosed) {
		t.Errorf("List after Close: %v, want ErrClosed", err)
	}
}
