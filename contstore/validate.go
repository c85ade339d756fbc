package contstore

import (
	"encoding/binary"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"time"
	"unicode/utf8"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Limits on record fields, beyond MaxStoreBytes.
const (
	MaxNameBytes  = 255  // app, slot name and role, tag name, meta key
	MaxKeyBytes   = 4096 // a store entry's key
	MaxValueBytes = 4096 // a tag's value, a Note
)

// maxUnixNano is the last instant the expiry index can hold (year 2262).
var maxUnixNano = time.Unix(0, math.MaxInt64)

func validName(field, s string) error {
	switch {
	case s == "":
		return invalid(field, "empty")
	case len(s) > MaxNameBytes:
		return invalid(field, "%d bytes, at most %d", len(s), MaxNameBytes)
	case strings.IndexByte(s, 0) >= 0:
		return invalid(field, "contains a NUL byte")
	case !utf8.ValidString(s):
		return invalid(field, "not valid UTF-8")
	}
	return nil
}

// optionalName accepts "" and otherwise what validName accepts.
func optionalName(field, s string) error {
	if s == "" {
		return nil
	}
	return validName(field, s)
}

// validateNew is what Put requires of a new continuation.
func validateNew(c *Continuation) error {
	if !c.State.initial() {
		return invalid("State", "a new continuation is %s or %s, not %q", StateSuspending, StateSuspended, c.State)
	}
	return validateRecord(c)
}

// validateRecord is what every stored continuation satisfies; Check applies
// it to what it reads back.
func validateRecord(c *Continuation) error {
	if err := validName("App", c.App); err != nil {
		return err
	}
	if c.Session == 0 {
		return invalid("Session", "0 is never a session id")
	}
	if !c.Kind.valid() {
		return invalid("Kind", "unknown kind %q", c.Kind)
	}
	if !c.State.Valid() {
		return invalid("State", "unknown state %q", c.State)
	}
	if c.OldPID < 0 || c.OldPID > math.MaxInt32 {
		return invalid("OldPID", "%d is not a pid", c.OldPID)
	}
	if len(c.Note) > MaxValueBytes {
		return invalid("Note", "%d bytes, at most %d", len(c.Note), MaxValueBytes)
	}
	for _, err := range []error{
		validateTimes(c),
		validateExec(c.Kind, c.Exec),
		validateSlots(c.Slots, c.FDsAfter),
		validateStore(c.Store),
		validateTags("Compat", c.Compat),
		validateDeps(c.Session, c.DependsOn),
	} {
		if err != nil {
			return err // the first, in field order
		}
	}
	return nil
}

func validateTimes(c *Continuation) error {
	if c.Created.Before(time.Unix(0, 0)) || !c.Created.Before(maxUnixNano) {
		return invalid("Created", "%s is outside the years the store keeps, 1970 to %d", c.Created, maxUnixNano.Year())
	}
	if c.Expires.IsZero() {
		return nil
	}
	if !c.Expires.After(c.Created) {
		return invalid("Expires", "%s is not after Created %s", c.Expires, c.Created)
	}
	if c.Expires.After(maxUnixNano) {
		return invalid("Expires", "%s is after %s", c.Expires, maxUnixNano)
	}
	return nil
}

func validateExec(kind Kind, p *specs.Process) error {
	switch {
	case kind == KindComplete && p == nil:
		return invalid("Exec", "a complete continuation needs an exec description")
	case kind != KindComplete && p != nil:
		return invalid("Exec", "only a complete continuation has one, this one is %s", kind)
	case p == nil:
		return nil
	case len(p.Args) == 0 || p.Args[0] == "":
		return invalid("Exec.Args", "empty: Args[0] is the program to run")
	case !filepath.IsAbs(p.Cwd):
		return invalid("Exec.Cwd", "%q is not an absolute path", p.Cwd)
	case strings.IndexByte(p.Cwd, 0) >= 0:
		return invalid("Exec.Cwd", "contains a NUL byte")
	}
	for i, a := range p.Args {
		if strings.IndexByte(a, 0) >= 0 {
			return invalid(fmt.Sprintf("Exec.Args[%d]", i), "contains a NUL byte")
		}
	}
	for i, e := range p.Env {
		if eq := strings.IndexByte(e, '='); eq <= 0 || strings.IndexByte(e, 0) >= 0 {
			return invalid(fmt.Sprintf("Exec.Env[%d]", i), "%q is not NAME=value", e)
		}
	}
	return nil
}

func validateSlots(slots []Slot, held int) error {
	if held < 0 || held > len(slots) {
		return invalid("FDsAfter", "%d held descriptors for %d slots", held, len(slots))
	}
	byNumber := make(map[int]int, len(slots))
	used := make([]bool, held)
	for i, s := range slots {
		field := fmt.Sprintf("Slots[%d]", i)
		if s.Number < 0 || s.Number > math.MaxInt32 {
			return invalid(field+".Number", "%d is not a descriptor number", s.Number)
		}
		if j, dup := byNumber[s.Number]; dup {
			return invalid(field+".Number", "descriptor %d is already restored by Slots[%d]", s.Number, j)
		}
		byNumber[s.Number] = i
		if s.Desc.Kind == "" {
			return invalid(field+".Desc.Kind", "empty")
		}
		if s.Held < -1 || s.Held >= held {
			return invalid(field+".Held", "%d out of range [-1, %d)", s.Held, held)
		}
		if s.Held == -1 && !s.Desc.IsNetwork() {
			return invalid(field+".Held", "only a network socket may go without a held descriptor, this is a %s", s.Desc.Kind)
		}
		if s.Held >= 0 {
			used[s.Held] = true
		}
		if err := optionalName(field+".Name", s.Name); err != nil {
			return err
		}
		if err := optionalName(field+".Role", s.Role); err != nil {
			return err
		}
	}
	for h, ok := range used {
		if !ok {
			return invalid("FDsAfter", "held descriptor %d restores no slot", h)
		}
	}
	return nil
}

func validateStore(entries []Entry) error {
	size := uvarintLen(len(entries))
	seen := make(map[string]bool, len(entries))
	for i, e := range entries {
		field := fmt.Sprintf("Store[%d].Key", i)
		switch {
		case e.Key == "":
			return invalid(field, "empty")
		case len(e.Key) > MaxKeyBytes:
			return invalid(field, "%d bytes, at most %d", len(e.Key), MaxKeyBytes)
		case seen[e.Key]:
			return invalid(field, "%q appears twice", e.Key)
		}
		seen[e.Key] = true
		size += uvarintLen(len(e.Key)) + len(e.Key) + uvarintLen(len(e.Value)) + len(e.Value) + 1
	}
	if size > MaxStoreBytes {
		return invalid("Store", "%d bytes serialized, at most %d", size, MaxStoreBytes)
	}
	return nil
}

func uvarintLen(n int) int {
	var buf [binary.MaxVarintLen64]byte
	return binary.PutUvarint(buf[:], uint64(n))
}

func validateTags(field string, tags []Tag) error {
	seen := make(map[uint32]int, len(tags))
	for i, t := range tags {
		f := fmt.Sprintf("%s[%d]", field, i)
		if j, dup := seen[t.ID]; dup {
			return invalid(f+".ID", "tag id %d is already used by %s[%d]", t.ID, field, j)
		}
		seen[t.ID] = i
		if err := validName(f+".Name", t.Name); err != nil {
			return err
		}
		if len(t.Value) > MaxValueBytes {
			return invalid(f+".Value", "%d bytes, at most %d", len(t.Value), MaxValueBytes)
		}
	}
	return nil
}

// validateDeps checks the sessions a session (self, 0 while PutSession has
// not numbered it) or a continuation of self depends on.
func validateDeps(self SessionID, deps []SessionID) error {
	seen := make(map[SessionID]bool, len(deps))
	for i, d := range deps {
		field := fmt.Sprintf("DependsOn[%d]", i)
		switch {
		case d == 0:
			return invalid(field, "0 is never a session id")
		case d == self:
			return invalid(field, "session %d cannot depend on itself", d)
		case seen[d]:
			return invalid(field, "session %d appears twice", d)
		}
		seen[d] = true
	}
	return nil
}
