package supervisor

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/migrate-run/migrate/contstore"
)

func TestUpgradeRefusesABadProgram(t *testing.T) {
	dir := t.TempDir()
	plain := filepath.Join(dir, "plain")
	if err := os.WriteFile(plain, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for exec, want := range map[string]string{
		"counter-server":           "not an absolute path",
		filepath.Join(dir, "none"): "no such file",
		dir:                        "not an executable file",
		plain:                      "not an executable file",
	} {
		if err := checkProgram(exec); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("checkProgram(%q) = %v, want %q", exec, err, want)
		}
	}
	h := newHarness(t, nil)
	if _, err := h.s.Upgrade(context.Background(), "nosuch", "/bin/true", ""); !errors.Is(err, ErrUnknownApp) {
		t.Errorf("upgrade of an unknown app: %v", err)
	}
}

func TestUpgradeCompatCheck(t *testing.T) {
	h := newHarness(t, nil)
	s := h.s
	a := &App{name: "web"}
	if err := s.store.PutCompat(compatKey("web", "2"), []contstore.Tag{{ID: 1, Name: "state", Value: "1"}, {ID: 2, Name: "proto", Value: "b"}}); err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	s.held[7] = &heldCont{app: a, rec: heldRecord{ID: 7, Compat: []contstore.Tag{{ID: 1, Name: "state", Value: "1"}}}}
	s.held[8] = &heldCont{app: a, rec: heldRecord{ID: 8, Compat: []contstore.Tag{{ID: 2, Name: "proto", Value: "a"}}}}
	s.held[9] = &heldCont{app: a, rec: heldRecord{ID: 9, Compat: []contstore.Tag{{ID: 3, Name: "tls", Value: "on"}}}}
	s.mu.Unlock()
	t.Cleanup(func() {
		s.mu.Lock()
		delete(s.held, 7)
		delete(s.held, 8)
		delete(s.held, 9)
		s.mu.Unlock()
	})
	if err := s.checkCompat(a, []contstore.ID{7}, "2"); err != nil {
		t.Errorf("a matching continuation: %v", err)
	}
	if err := s.checkCompat(a, []contstore.ID{7, 8}, ""); err != nil {
		t.Errorf("no version: %v, want not checked", err)
	}
	var me *CompatMismatchError
	err := s.checkCompat(a, []contstore.ID{7, 8}, "2")
	if !errors.As(err, &me) || me.Cont != 8 || me.Has == nil || me.Has.Value != "b" ||
		err.Error() != `compat tag 2 (proto) is "a" in continuation 8, version 2 has "b"` {
		t.Errorf("a different value: %v", err)
	}
	err = s.checkCompat(a, []contstore.ID{9}, "2")
	if !errors.As(err, &me) || me.Has != nil || !strings.Contains(err.Error(), "does not have it") {
		t.Errorf("a missing tag: %v", err)
	}
	if err := s.checkCompat(a, []contstore.ID{7}, "3"); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("a version never registered: %v", err)
	}
}
