package contstore

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestSessions(t *testing.T) {
	s := newTestStore(t)
	created := time.Date(2026, 11, 26, 3, 0, 0, 0, time.UTC)
	x11 := Session{App: "sshd", State: SessionActive, Conn: tcpDesc(6010), Created: created}
	main := Session{App: "sshd", State: SessionActive, Conn: tcpDesc(51234), Created: created}
	web := Session{App: "web", State: SessionActive, Conn: tcpDesc(443), Created: created}
	for i, sess := range []*Session{&x11, &main, &web} {
		if err := s.PutSession(sess); err != nil {
			t.Fatal(err)
		}
		if want := SessionID(i + 1); sess.ID != want {
			t.Errorf("PutSession %d in a new store: ID %s, want %s", i, sess.ID, want)
		}
	}
	if got, err := s.GetSession(main.ID); err != nil || !reflect.DeepEqual(got, main) {
		t.Errorf("GetSession = %+v, %v; want %+v", got, err, main)
	}
	if _, err := s.GetSession(99); !errors.Is(err, ErrNotFound) {
		t.Errorf("GetSession(missing): %v, want ErrNotFound", err)
	}
	if got, err := s.ListSessions("sshd"); err != nil || !reflect.DeepEqual(got, []Session{x11, main}) {
		t.Errorf("ListSessions(sshd) = %+v, %v; want sessions 1 and 2", got, err)
	}
	if got, err := s.ListSessions(""); err != nil || len(got) != 3 {
		t.Errorf("ListSessions(\"\") = %d sessions, %v; want 3", len(got), err)
	}

	// Replacing a session updates it; its app stays.
	x11.State, x11.DependsOn = SessionSuspended, []SessionID{main.ID}
	if err := s.PutSession(&x11); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.GetSession(x11.ID); !reflect.DeepEqual(got, x11) {
		t.Errorf("after replacing: %+v, want %+v", got, x11)
	}
	stolen := x11
	stolen.App = "web"
	if err := s.PutSession(&stolen); !errors.Is(err, ErrInvalid) {
		t.Errorf("PutSession moving a session to another app: %v, want ErrInvalid", err)
	}

	// A session with continuations cannot go.
	c := mustPut(t, s, smallContinuation("sshd", main.ID, StateSuspended))
	if err := s.DeleteSession(main.ID); !errors.Is(err, ErrInUse) {
		t.Errorf("DeleteSession in use: %v, want ErrInUse", err)
	}
	if err := s.Delete(c.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteSession(main.ID); err != nil {
		t.Errorf("DeleteSession once unused: %v", err)
	}
	if err := s.DeleteSession(main.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("DeleteSession twice: %v, want ErrNotFound", err)
	}
}

func TestPutSessionIDs(t *testing.T) {
	s := newTestStore(t)
	first := putSession(t, s, "app")
	// A given ID stores the session there and moves the sequence past it.
	given := Session{ID: 10, App: "app", State: SessionActive}
	if err := s.PutSession(&given); err != nil || given.ID != 10 {
		t.Fatalf("PutSession with ID 10: %v, ID %s", err, given.ID)
	}
	if next := putSession(t, s, "app"); next != 11 {
		t.Errorf("PutSession after a given 10 got %s, want 11", next)
	}
	// A deleted session's ID is not given out again.
	if err := s.DeleteSession(11); err != nil {
		t.Fatal(err)
	}
	if next := putSession(t, s, "app"); next != 12 {
		t.Errorf("PutSession after deleting 11 got %s, want 12", next)
	}

	// A new session may depend on sessions numbered before it, stored or
	// not, but not on a number not given out yet: that could be its own.
	dep := Session{App: "app", State: SessionActive, DependsOn: []SessionID{first, 11}}
	if err := s.PutSession(&dep); err != nil {
		t.Errorf("PutSession depending on sessions numbered before: %v", err)
	}
	file := fileBytes(t, s.Path())
	for _, deps := range [][]SessionID{{dep.ID + 1}, {first, dep.ID + 5}} {
		sess := Session{App: "app", State: SessionActive, DependsOn: deps}
		err := s.PutSession(&sess)
		var verr *ValidationError
		if !errors.As(err, &verr) || !strings.HasPrefix(verr.Field, "DependsOn[") || !strings.Contains(err.Error(), "has not been numbered yet") {
			t.Errorf("PutSession depending on %v: %v, want a *ValidationError for DependsOn", deps, err)
		}
		if sess.ID != 0 {
			t.Errorf("a refused PutSession set ID %s", sess.ID)
		}
	}
	if !bytes.Equal(file, fileBytes(t, s.Path())) {
		t.Error("refused PutSessions changed the file")
	}
	if next := putSession(t, s, "app"); next != dep.ID+1 {
		t.Errorf("PutSession after refused ones got %s, want %s: a failed PutSession uses up no number", next, dep.ID+1)
	}
}

func TestPutSessionValidation(t *testing.T) {
	s := newTestStore(t)
	file := fileBytes(t, s.Path())
	for field, sess := range map[string]Session{
		"App":          {ID: 1, State: SessionActive},
		"State":        {ID: 1, App: "a", State: "paused"},
		"DependsOn[0]": {ID: 1, App: "a", State: SessionActive, DependsOn: []SessionID{1}},
		"DependsOn[1]": {ID: 1, App: "a", State: SessionActive, DependsOn: []SessionID{2, 0}},
		"DependsOn[2]": {ID: 1, App: "a", State: SessionActive, DependsOn: []SessionID{2, 3, 2}},
	} {
		var verr *ValidationError
		sent := sess
		if err := s.PutSession(&sess); !errors.As(err, &verr) || verr.Field != field {
			t.Errorf("PutSession(%+v): %v, want a *ValidationError for %s", sess, err, field)
		}
		if !reflect.DeepEqual(sess, sent) {
			t.Errorf("%s: a refused PutSession changed the caller's session", field)
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
	if got, err := s.GetMeta(metaSchemaKey); err != nil || string(got) != "2" {
		t.Errorf("GetMeta(%s) = %q, %v; want 2", metaSchemaKey, got, err)
	}
	if err := s.SetMeta(metaSchemaKey, []byte("3")); !errors.Is(err, ErrInvalid) {
		t.Errorf("SetMeta(%s): %v, want ErrInvalid", metaSchemaKey, err)
	}
	if err := s.SetMeta("", []byte("x")); !errors.Is(err, ErrInvalid) {
		t.Errorf("SetMeta with an empty key: %v, want ErrInvalid", err)
	}
}
