package contstore

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestPutGetRoundTrip(t *testing.T) {
	s := newTestStore(t)
	s1 := putSession(t, s, "sshd")
	want := fullContinuation("sshd", s1)
	if err := s.Put(&want); err != nil {
		t.Fatal(err)
	}
	if want.StoreRawBytes < 4096 || want.StoreCompressedBytes <= 0 || want.StoreCompressedBytes >= want.StoreRawBytes {
		t.Errorf("store sizes raw %d, compressed %d: want a 4 KiB store that compresses", want.StoreRawBytes, want.StoreCompressedBytes)
	}
	if want.FDsBefore != 5 {
		t.Errorf("FDsBefore = %d, want 5 (one per slot)", want.FDsBefore)
	}
	got, err := s.Get(want.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Get after Put:\n got %+v\nwant %+v", got, want)
	}

	// Reopen: the record comes from the file, not from anything in memory.
	path := s.Path()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, path, Options{})
	if got, err = s.Get(want.ID); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Get after reopening:\n got %+v\nwant %+v", got, want)
	}
}

func TestPutFillsTimes(t *testing.T) {
	s := newTestStore(t)
	s1 := putSession(t, s, "app")
	start := time.Now().Round(0)
	c := mustPut(t, s, smallContinuation("app", s1, StateSuspended))
	if c.Created.Before(start) || c.Created.After(time.Now()) || c.Created.Location() != time.UTC {
		t.Errorf("Created %s, want now in UTC", c.Created)
	}
	if !c.Changed.Equal(c.Created) {
		t.Errorf("Changed %s, want Created %s", c.Changed, c.Created)
	}
	given := smallContinuation("app", s1, StateSuspended)
	given.Created = time.Date(2026, 1, 2, 3, 4, 5, 6, time.FixedZone("CET", 3600))
	c = mustPut(t, s, given)
	if !c.Created.Equal(given.Created) || c.Created.Location() != time.UTC || !c.Changed.Equal(c.Created) {
		t.Errorf("Created %s, Changed %s; want the given %s in UTC, twice", c.Created, c.Changed, given.Created)
	}
}

func TestPutExistingIDChangesNothing(t *testing.T) {
	s := newTestStore(t)
	s1 := putSession(t, s, "app")
	first := mustPut(t, s, smallContinuation("app", s1, StateSuspended))
	again := smallContinuation("app", s1, StateSuspending)
	again.ID, again.Note = first.ID, "second"
	before := fileBytes(t, s.Path())
	if err := s.Put(&again); !errors.Is(err, ErrExists) {
		t.Fatalf("Put with a stored ID: %v, want ErrExists", err)
	}
	if !bytes.Equal(before, fileBytes(t, s.Path())) {
		t.Error("a refused Put changed the file")
	}
	got, err := s.Get(first.ID)
	if err != nil || got.Note != "" || got.State != StateSuspended {
		t.Errorf("Get after a refused Put = %+v, %v; want the first record", got, err)
	}
}

func TestPutValidation(t *testing.T) {
	s := newTestStore(t)
	s1 := putSession(t, s, "sshd")
	s9 := putSession(t, s, "other")
	cases := []struct {
		field  string
		mangle func(c *Continuation)
	}{
		{"App", func(c *Continuation) { c.App = "" }},
		{"App", func(c *Continuation) { c.App = "a\x00b" }},
		{"Session", func(c *Continuation) { c.Session = 0 }},
		{"Session", func(c *Continuation) { c.Session = s9 + 1 }}, // not stored
		{"Session", func(c *Continuation) { c.Session = s9 }},     // another app's
		{"Kind", func(c *Continuation) { c.Kind = "partial" }},
		{"State", func(c *Continuation) { c.State = StateResumed }},
		{"State", func(c *Continuation) { c.State = "sleeping" }},
		{"Exec", func(c *Continuation) { c.Exec = nil }},
		{"Exec", func(c *Continuation) { c.Kind = KindInternal }},
		{"Exec.Args", func(c *Continuation) { c.Exec.Args = nil }},
		{"Exec.Args[1]", func(c *Continuation) { c.Exec.Args[1] = "-\x00D" }},
		{"Exec.Env[1]", func(c *Continuation) { c.Exec.Env[1] = "=C" }},
		{"Exec.Cwd", func(c *Continuation) { c.Exec.Cwd = "home/alice" }},
		{"Expires", func(c *Continuation) { c.Expires = c.Created }},
		{"Expires", func(c *Continuation) { c.Expires = time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC) }},
		{"Created", func(c *Continuation) { c.Created = time.Date(1969, 1, 1, 0, 0, 0, 0, time.UTC) }},
		{"Created", func(c *Continuation) { c.Created, c.Expires = time.Date(2263, 1, 1, 0, 0, 0, 0, time.UTC), time.Time{} }},
		{"OldPID", func(c *Continuation) { c.OldPID = -1 }},
		{"FDsAfter", func(c *Continuation) { c.FDsAfter = 6 }},
		{"FDsAfter", func(c *Continuation) { c.FDsAfter = 4 }}, // held 3 restores nothing
		{"Slots[4].Held", func(c *Continuation) { c.Slots[4].Held = 3 }},
		{"Slots[4].Held", func(c *Continuation) { c.Slots[4].Held = -1 }}, // a file must stay held
		{"Slots[1].Number", func(c *Continuation) { c.Slots[1].Number = 0 }},
		{"Slots[2].Number", func(c *Continuation) { c.Slots[2].Number = -2 }},
		{"Slots[0].Desc.Kind", func(c *Continuation) { c.Slots[0].Desc.Kind = "" }},
		{"Store[1].Key", func(c *Continuation) { c.Store[1].Key = "" }},
		{"Store[2].Key", func(c *Continuation) { c.Store[2].Key = c.Store[0].Key }},
		{"Store", func(c *Continuation) { c.Store[4].Value = make([]byte, MaxStoreBytes) }},
		{"Compat[1].ID", func(c *Continuation) { c.Compat[1].ID = c.Compat[0].ID }},
		{"Compat[0].Name", func(c *Continuation) { c.Compat[0].Name = "" }},
		{"DependsOn[0]", func(c *Continuation) { c.DependsOn[0] = c.Session }},
		{"DependsOn[0]", func(c *Continuation) { c.DependsOn[0] = 0 }},
		{"DependsOn[1]", func(c *Continuation) { c.DependsOn = append(c.DependsOn, c.DependsOn[0]) }},
		{"Note", func(c *Continuation) { c.Note = strings.Repeat("n", MaxValueBytes+1) }},
	}
	before := fileBytes(t, s.Path())
	stats, err := s.Stats()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range cases {
		c := fullContinuation("sshd", s1)
		tc.mangle(&c)
		sent := c
		err := s.Put(&c)
		var verr *ValidationError
		if !errors.As(err, &verr) || !errors.Is(err, ErrInvalid) || verr.Field != tc.field {
			t.Errorf("%s: Put error %v, want a *ValidationError for %s", tc.field, err, tc.field)
			continue
		}
		if !reflect.DeepEqual(c, sent) {
			t.Errorf("%s: a refused Put changed the caller's record", tc.field)
		}
	}
	after, err := s.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if after.TxID != stats.TxID || after.Continuations != 0 {
		t.Errorf("refused Puts committed: TxID %d → %d, %d continuations", stats.TxID, after.TxID, after.Continuations)
	}
	if !bytes.Equal(before, fileBytes(t, s.Path())) {
		t.Error("refused Puts changed the file")
	}
}

func TestPutAllowsReleasedNetworkSocket(t *testing.T) {
	s := newTestStore(t)
	s1 := putSession(t, s, "app")
	c := smallContinuation("app", s1, StateSuspended)
	c.Slots[0].Held, c.FDsAfter = -1, 0
	c = mustPut(t, s, c)
	if got, err := s.Get(c.ID); err != nil || got.Slots[0].Held != -1 || got.FDsAfter != 0 {
		t.Errorf("Get = %+v, %v; want the released socket kept as Held -1", got, err)
	}
}

func TestDelete(t *testing.T) {
	s := newTestStore(t)
	s1 := putSession(t, s, "app")
	keep := mustPut(t, s, smallContinuation("app", s1, StateSuspended))
	c := fullContinuation("app", s1)
	c.Exec.Args = []string{"/bin/app"}
	gone := mustPut(t, s, c)
	if err := s.Delete(gone.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(gone.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get after Delete: %v, want ErrNotFound", err)
	}
	if err := s.Delete(gone.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("second Delete: %v, want ErrNotFound", err)
	}
	// The indexes forgot it too (and the cleanup's Check proves no entry dangles).
	for _, f := range []Filter{{}, {App: "app"}, {State: StateSuspended}, {Session: s1}} {
		if got := listIDs(t, s, f); !reflect.DeepEqual(got, []ID{keep.ID}) {
			t.Errorf("List(%+v) = %v, want only %s", f, got, keep.ID)
		}
	}
	if ids, err := s.ExpiredBefore(gone.Expires.Add(time.Hour)); err != nil || len(ids) != 0 {
		t.Errorf("ExpiredBefore after Delete = %v, %v; want none", ids, err)
	}
}

func TestExecDescriptionKeepsRuntimeSpecFields(t *testing.T) {
	s := newTestStore(t)
	s1 := putSession(t, s, "app")
	c := fullContinuation("app", s1)
	c.Exec.Capabilities = &specs.LinuxCapabilities{Bounding: []string{"CAP_NET_BIND_SERVICE"}}
	c = mustPut(t, s, c)
	got, err := s.Get(c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Exec, c.Exec) {
		t.Errorf("Exec = %+v, want %+v", got.Exec, c.Exec)
	}
}
