package contstore

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
)

func TestIDText(t *testing.T) {
	for _, tc := range []struct {
		id   uint64
		text string
	}{{1, "1"}, {42, "42"}, {1 << 53, "9007199254740992"}, {math.MaxUint64, "18446744073709551615"}} {
		if got := ID(tc.id).String(); got != tc.text {
			t.Errorf("ID(%d).String() = %q, want %q", tc.id, got, tc.text)
		}
		if got := SessionID(tc.id).String(); got != tc.text {
			t.Errorf("SessionID(%d).String() = %q, want %q", tc.id, got, tc.text)
		}
		if id, err := ParseID(tc.text); err != nil || id != ID(tc.id) {
			t.Errorf("ParseID(%q) = %d, %v; want %d", tc.text, id, err, tc.id)
		}
		if id, err := ParseSessionID(tc.text); err != nil || id != SessionID(tc.id) {
			t.Errorf("ParseSessionID(%q) = %d, %v; want %d", tc.text, id, err, tc.id)
		}
	}

	// JSON carries both as decimal strings, which survive readers that
	// hold numbers as doubles.
	type pair struct {
		C ID
		S SessionID
	}
	in := pair{C: math.MaxUint64, S: 7}
	js, err := json.Marshal(in)
	if err != nil || string(js) != `{"C":"18446744073709551615","S":"7"}` {
		t.Errorf("JSON %s, %v", js, err)
	}
	var out pair
	if err := json.Unmarshal(js, &out); err != nil || out != in {
		t.Errorf("JSON back: %+v, %v; want %+v", out, err, in)
	}
	// The zero value (not set yet) survives a round trip too; what ParseID
	// refuses otherwise, JSON refuses.
	if js, err := json.Marshal(pair{}); err != nil || string(js) != `{"C":"0","S":"0"}` {
		t.Errorf("JSON of zero IDs %s, %v", js, err)
	} else if err := json.Unmarshal(js, &out); err != nil || out != (pair{}) {
		t.Errorf("JSON of zero IDs back: %+v, %v", out, err)
	}
	for _, bad := range []string{`{"C":"00"}`, `{"S":"01"}`, `{"C":"-1"}`, `{"S":""}`, `{"C":"18446744073709551616"}`} {
		if err := json.Unmarshal([]byte(bad), &out); !errors.Is(err, ErrInvalid) {
			t.Errorf("JSON %s: %v, want ErrInvalid", bad, err)
		}
	}
}

func TestParseIDRejects(t *testing.T) {
	for _, tc := range []struct{ text, problem string }{
		{"", "empty"},
		{"0", "0 is never an id"},
		{"00", "leading zero"},
		{"007", "leading zero"},
		{"-1", "'-' at 0 is not a decimal digit"},
		{"+1", "'+' at 0 is not a decimal digit"},
		{" 1", "' ' at 0 is not a decimal digit"},
		{"1 ", "' ' at 1 is not a decimal digit"},
		{"1\n", "'\\n' at 1 is not a decimal digit"},
		{"1_000", "'_' at 1 is not a decimal digit"},
		{"0x1f", "'x' at 1 is not a decimal digit"},
		{"1e3", "'e' at 1 is not a decimal digit"},
		{"\u0661", "is not a decimal digit"}, // ARABIC-INDIC DIGIT ONE
		{"18446744073709551616", "above the largest id, 18446744073709551615"},
		{"99999999999999999999999", "above the largest id"},
	} {
		for name, parse := range map[string]func(string) error{
			"ParseID":        func(s string) error { _, err := ParseID(s); return err },
			"ParseSessionID": func(s string) error { _, err := ParseSessionID(s); return err },
		} {
			err := parse(tc.text)
			var verr *ValidationError
			if !errors.As(err, &verr) || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.problem) {
				t.Errorf("%s(%q): %v, want a *ValidationError saying %q", name, tc.text, err, tc.problem)
			}
		}
	}
}

func TestPutAssignsIDsInOrder(t *testing.T) {
	s := newTestStore(t)
	s1 := putSession(t, s, "app")
	for want := ID(1); want <= 5; want++ {
		c := smallContinuation("app", s1, StateSuspended)
		if err := s.Put(&c); err != nil {
			t.Fatal(err)
		}
		if c.ID != want {
			t.Errorf("Put %d in a new store got ID %s", want, c.ID)
		}
	}
	if got := listIDs(t, s, Filter{}); len(got) != 5 || got[0] != 1 || got[4] != 5 {
		t.Errorf("List = %v, want 1 to 5 in order", got)
	}
}

func TestPutGivenIDs(t *testing.T) {
	s := newTestStore(t)
	s1 := putSession(t, s, "app")
	put := func(id ID) ID {
		t.Helper()
		c := smallContinuation("app", s1, StateSuspended)
		c.ID = id
		return mustPut(t, s, c).ID
	}
	if got := put(65536); got != 65536 {
		t.Errorf("Put with ID 65536 stored it as %s", got)
	}
	if got := put(0); got != 65537 {
		t.Errorf("Put after a given 65536 got %s, want 65537: the sequence must move past given IDs", got)
	}
	if got := put(255); got != 255 {
		t.Errorf("Put with a free ID below the sequence stored it as %s", got)
	}
	if got := put(0); got != 65538 {
		t.Errorf("Put after a given 255 got %s, want 65538: a lower given ID must not move the sequence back", got)
	}

	// The sequence is in the file.
	path := s.Path()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, path, Options{})
	if got := put(0); got != 65539 {
		t.Errorf("Put after reopening got %s, want 65539", got)
	}
	// List is in numeric order whichever index serves it.
	want := []ID{255, 65536, 65537, 65538, 65539}
	for _, f := range []Filter{{}, {Session: s1}, {State: StateSuspended}, {App: "app"}} {
		if got := listIDs(t, s, f); !slices.Equal(got, want) {
			t.Errorf("List(%+v) = %v, want %v", f, got, want)
		}
	}
}

func TestIDsExhausted(t *testing.T) {
	s := newTestStore(t)
	last := Session{ID: math.MaxUint64, App: "app", State: SessionActive}
	if err := s.PutSession(&last); err != nil {
		t.Fatal(err)
	}
	c := smallContinuation("app", last.ID, StateSuspended)
	c.ID = math.MaxUint64
	mustPut(t, s, c)

	file := fileBytes(t, s.Path())
	c = smallContinuation("app", last.ID, StateSuspended)
	if err := s.Put(&c); !errors.Is(err, ErrIDsExhausted) || c.ID != 0 {
		t.Errorf("Put after ID 2^64-1: %v, ID %s; want ErrIDsExhausted and no ID", err, c.ID)
	}
	sess := Session{App: "app", State: SessionActive}
	if err := s.PutSession(&sess); !errors.Is(err, ErrIDsExhausted) || sess.ID != 0 {
		t.Errorf("PutSession after ID 2^64-1: %v, ID %s; want ErrIDsExhausted and no ID", err, sess.ID)
	}
	if !bytes.Equal(file, fileBytes(t, s.Path())) {
		t.Error("writes that ran out of IDs changed the file")
	}
	// Given IDs still work.
	c.ID = 7
	if err := s.Put(&c); err != nil || c.ID != 7 {
		t.Errorf("Put with a given ID after the sequence ran out: %v, ID %s", err, c.ID)
	}
}
