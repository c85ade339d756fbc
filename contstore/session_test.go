package contstore

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
	"time"
)

func TestSessions(t *testing.T) {
	s := newTestStore(t)
	created := time.Date(2026, 11, 26, 3, 0, 0, 0, time.UTC)
	x11 := Session{ID: "x11-1", App: "sshd", State: SessionActive, Conn: tcpDesc(6010), Created: created}
	main := Session{ID: "ssh-1", App: "sshd", State: SessionActive, Conn: tcpDesc(51234), Created: created}
	web := Session{ID: "w-1", App: "web", State: SessionActive, Conn: tcpDesc(443), DependsOn: []string{"gone-long-ago"}, Created: created}
	for _, sess := range []Session{x11, main, web} {
		if err := s.PutSession(sess); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := s.GetSession("ssh-1"); err != nil || !reflect.DeepEqual(got, main) {
		t.Errorf("GetSession = %+v, %v; want %+v", got, err, main)
	}
	if _, err := s.GetSession("nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("GetSession(missing): %v, want ErrNotFound", err)
	}
	if got, err := s.ListSessions("sshd"); err != nil || !reflect.DeepEqual(got, []Session{main, x11}) {
		t.Errorf("ListSessions(sshd) = %+v, %v; want ssh-1, x11-1", got, err)
	}
	if got, err := s.ListSessions(""); err != nil || len(got) != 3 {
		t.Errorf("ListSessions(\"\") = %d sessions, %v; want 3", len(got), err)
	}

	// Replacing a session updates it; its app stays.
	x11.State, x11.DependsOn = SessionSuspended, []string{"ssh-1"}
	if err := s.PutSession(x11); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.GetSession("x11-1"); !reflect.DeepEqual(got, x11) {
		t.Errorf("after replacing: %+v, want %+v", got, x11)
	}
	stolen := x11
	stolen.App = "web"
	if err := s.PutSession(stolen); !errors.Is(err, ErrInvalid) {
		t.Errorf("PutSession moving a session to another app: %v, want ErrInvalid", err)
	}

	// A session with continuations cannot go.
	c := mustPut(t, s, smallContinuation("sshd", "ssh-1", StateSuspended))
	if err := s.DeleteSession("ssh-1"); !errors.Is(err, ErrInUse) {
		t.Errorf("DeleteSession in use: %v, want ErrInUse", err)
	}
	if err := s.Delete(c.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteSession("ssh-1"); err != nil {
		t.Errorf("DeleteSession once unused: %v", err)
	}
	if err := s.DeleteSession("ssh-1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("DeleteSession twice: %v, want ErrNotFound", err)
	}
}

func TestPutSessionValidation(t *testing.T) {
	s := newTestStore(t)
	file := fileBytes(t, s.Path())
	for field, sess := range map[string]Session{
		"ID":           {App: "a", State: SessionActive},
		"App":          {ID: "s", State: SessionActive},
		"State":        {ID: "s", App: "a", State: "paused"},
		"DependsOn[0]": {ID: "s", App: "a", State: SessionActive, DependsOn: []string{"s"}},
	} {
		var verr *ValidationError
		if err := s.PutSession(sess); !errors.As(err, &verr) || verr.Field != field {
			t.Errorf("PutSession(%+v): %v, want a *ValidationError for %s", sess, err, field)
		}
	}
	if !bytes.Equal(file, fileBytes(t, s.Path())) {
		t.Error("refused PutSessions changed the file")
	}
}

func TestCompatRegistry(t *testing.T) {
	s := newTestStore(t)
	tags := []Tag{{ID: 1, Name: "sshd.version", Value: "9.6p1"}, {ID: 7, Name: "nfs./home", Value: "mounted"}}
	if err := s.PutCompat("sshd", tags); err != nil {
		t.Fatal(err)
	}
	if got, err := s.GetCompat("sshd"); err != nil || !reflect.DeepEqual(got, tags) {
		t.Errorf("GetCompat = %+v, %v; want %+v", got, err, tags)
	}
	if err := s.PutCompat("sshd", tags[:1]); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.GetCompat("sshd"); !reflect.DeepEqual(got, tags[:1]) {
		t.Errorf("after replacing: %+v, want %+v", got, tags[:1])
	}
	if err := s.PutCompat("web", nil); err != nil {
		t.Fatal(err)
	}
	if got, err := s.GetCompat("web"); err != nil || len(got) != 0 {
		t.Errorf("an empty vector: %+v, %v; want registered and empty", got, err)
	}
	if _, err := s.GetCompat("nobody"); !errors.Is(err, ErrNotFound) {
		t.Errorf("GetCompat(unregistered): %v, want ErrNotFound", err)
	}
	dup := []Tag{{ID: 1, Name: "a"}, {ID: 1, Name: "b"}}
	if err := s.PutCompat("sshd", dup); !errors.Is(err, ErrInvalid) {
		t.Errorf("PutCompat with a duplicate tag id: %v, want ErrInvalid", err)
	}
	if got, _ := s.GetCompat("sshd"); !reflect.DeepEqual(got, tags[:1]) {
		t.Errorf("a refused PutCompat changed the vector to %+v", got)
	}
}

func TestMeta(t *testing.T) {
	s := newTestStore(t)
	if err := s.SetMeta("boot-id", []byte("4f1c")); err != nil {
		t.Fatal(err)
	}
	if err := s.SetMeta("empty", nil); err != nil {
		t.Fatal(err)
	}
	if got, err := s.GetMeta("boot-id"); err != nil || string(got) != "4f1c" {
		t.Errorf("GetMeta(boot-id) = %q, %v", got, err)
	}
	if got, err := s.GetMeta("empty"); err != nil || len(got) != 0 {
		t.Errorf("GetMeta(empty) = %q, %v; want an empty value", got, err)
	}
	if _, err := s.GetMeta("missing"); !errors.Is(err, ErrNotFound) {
		t.Errorf("GetMeta(missing): %v, want ErrNotFound", err)
	}
	if got, err := s.GetMeta(metaSchemaKey); err != nil || string(got) != "1" {
		t.Errorf("GetMeta(%s) = %q, %v; want 1", metaSchemaKey, got, err)
	}
	if err := s.SetMeta(metaSchemaKey, []byte("2")); !errors.Is(err, ErrInvalid) {
		t.Errorf("SetMeta(%s): %v, want ErrInvalid", metaSchemaKey, err)
	}
	if err := s.SetMeta("", []byte("x")); !errors.Is(err, ErrInvalid) {
		t.Errorf("SetMeta with an empty key: %v, want ErrInvalid", err)
	}
}
