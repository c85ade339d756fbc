//go:build linux

package accounting

import (
	"errors"
	"os"
	"testing"
	"time"
)

// quiet is how long a frozen child is given to (wrongly) answer. It is not
// a synchronisation: a working freezer makes the wait pass whatever its
// length, a broken one fails it within microseconds.
const quiet = 200 * time.Millisecond

// A frozen child does not run (it does not echo what it is sent) and the
// kernel reports the group frozen; thawed, it answers what it was sent.
func TestFreezeThaw(t *testing.T) {
	forEachMode(t, func(t *testing.T, e *env) {
		g := e.create("app")
		c := e.start("echo")
		if err := g.Add(c.pid()); err != nil {
			t.Fatal(err)
		}
		if err := g.Freeze(); err != nil {
			t.Fatal(err)
		}
		if frozen, err := g.Frozen(); err != nil || !frozen {
			t.Fatalf("Frozen() after Freeze = %v, %v", frozen, err)
		}
		c.send(t, "x")
		c.out.SetReadDeadline(time.Now().Add(quiet))
		if b, err := c.r.ReadByte(); !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("frozen child answered %q (%v)", b, err)
		}
		if err := g.Thaw(); err != nil {
			t.Fatal(err)
		}
		if frozen, err := g.Frozen(); err != nil || frozen {
			t.Fatalf("Frozen() after Thaw = %v, %v", frozen, err)
		}
		if got := c.line(t); got != "x" {
			t.Fatalf("thawed child answered %q, want x", got)
		}
		if err := g.Freeze(); err != nil { // freezing twice is fine
			t.Fatal(err)
		}
		if err := g.Freeze(); err != nil {
			t.Fatal(err)
		}
	})
}

// An empty group freezes and thaws too; a deleted one is ErrNotFound.
func TestFreezeEmptyAndDeleted(t *testing.T) {
	forEachMode(t, func(t *testing.T, e *env) {
		g := e.create("app")
		if err := g.Freeze(); err != nil {
			t.Fatal(err)
		}
		if err := g.Thaw(); err != nil {
			t.Fatal(err)
		}
		if err := g.Delete(); err != nil {
			t.Fatal(err)
		}
		if err := g.Freeze(); !errors.Is(err, ErrNotFound) {
			t.Errorf("Freeze of a deleted group = %v, want ErrNotFound", err)
		}
		if _, err := g.Frozen(); !errors.Is(err, ErrNotFound) {
			t.Errorf("Frozen of a deleted group = %v, want ErrNotFound", err)
		}
	})
}
