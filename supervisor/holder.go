package supervisor

import (
	"reflect"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"golang.org/x/sys/unix"

	"github.com/migrate-run/migrate/contstore"
)

// heldCont is a continuation whose descriptors the supervisor holds: the
// holder table (Supervisor.held) has one per continuation in suspended or
// resuming. The descriptors are raw numbers, never *os.File, so no finalizer
// can close one behind the table's back; fds[i] is the held descriptor i
// that the record's Slots name by Held index.
type heldCont struct {
	rec   heldRecord
	app   *App
	sess  *session
	fds   []int
	state contstore.State // suspended or resuming
	// resumer is the fresh process of a complete resume in progress.
	resumer *proc
	sweep   func() // wakes the sweeper
	// exec0, when set, replaces the program (Exec.Args[0]) of the resume
	// in progress: an upgrade's new binary.
	exec0 string
	// clock times the resume in progress for its caller's stages; nil
	// while none is in progress.
	clock *resumeClock
	// waiters are told how the resume in progress ended: nil once resumed,
	// an error when it failed and the continuation is suspended again.
	waiters []chan error
	// marking is the store's record of the resume in progress (suspended →
	// resuming), which a complete resume commits while its fresh process
	// starts; nil while none is in progress.
	marking *resumeMark
}

// heldRecord is what the holder table keeps of a held continuation's
// stored record: what a resume, an attach, an upgrade and the store
// operations read while the continuation is held, and no more. The rest
// (the slots' descriptions, the times, the app's name, the note) is read
// from the store by whoever needs it (Show, List), off the held path: at
// 100,000 held sessions every byte kept here is 100 kB of the supervisor's
// memory. Its field names are those of contstore.Continuation.
type heldRecord struct {
	ID        contstore.ID
	Session   contstore.SessionID
	Kind      contstore.Kind
	OldPID    int
	SigMask   uint64
	FDsBefore int
	Expires   time.Time
	Exec      *specs.Process
	Slots     []heldSlot
	// Store is the continuation's attribute/value store; the store
	// operations may change this held copy (storeops.go).
	Store     []contstore.Entry
	Compat    []contstore.Tag
	DependsOn []contstore.SessionID
}

// heldSlot is what a held continuation keeps of a contstore.Slot: where
// the descriptor goes back, not what it described.
type heldSlot struct {
	Name   string
	Role   string
	Number int
	Held   int
}

// heldRecordOf returns the part of c the holder table keeps.
func heldRecordOf(c *contstore.Continuation) heldRecord {
	r := heldRecord{ID: c.ID, Session: c.Session, Kind: c.Kind, OldPID: c.OldPID, SigMask: c.SigMask,
		FDsBefore: c.FDsBefore, Expires: c.Expires, Exec: c.Exec, Store: c.Store, Compat: c.Compat,
		DependsOn: c.DependsOn}
	if len(c.Slots) > 0 {
		r.Slots = make([]heldSlot, len(c.Slots))
		for i, sl := range c.Slots {
			r.Slots[i] = heldSlot{Name: sl.Name, Role: sl.Role, Number: sl.Number, Held: sl.Held}
		}
	}
	if len(r.Store) == 0 {
		r.Store = nil
	}
	if len(r.Compat) == 0 {
		r.Compat = nil
	}
	return r
}

// heldTotals returns the number of descriptors the held continuations
// carried before collapse and hold after it.
func (s *Supervisor) heldTotals() (before, after int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, h := range s.held {
		before += h.rec.FDsBefore
		after += len(h.fds)
	}
	return before, after
}

// hold puts a committed continuation in the holder table and schedules its
// expiry. The caller holds s.mu.
func (s *Supervisor) hold(h *heldCont) {
	h.rec.Exec = s.execs.share(h.app.name, h.rec.Exec)
	h.sweep = s.wakeSweeper
	s.held[h.rec.ID] = h
	s.setExpiry(h.rec.ID, h.rec.Expires)
}

// release removes a continuation from the holder table and closes its
// descriptors. The caller holds s.mu.
func (s *Supervisor) release(h *heldCont) {
	delete(s.held, h.rec.ID)
	closeFDs(h.fds)
	h.fds = nil
}

// finishResume tells the waiters of a resume how it ended. The caller holds
// s.mu.
func (h *heldCont) finishResume(err error) {
	h.wake()
	for _, w := range h.waiters {
		w <- err
	}
	h.waiters = nil
	h.resumer = nil
	h.marking = nil
	h.clock = nil
}

// wake lets the sweeper reconsider this continuation's expiry, which it
// skips while a resume is in progress.
func (h *heldCont) wake() {
	if h.sweep != nil {
		h.sweep()
	}
}

// setExpiry records when a stored continuation expires and wakes the
// sweeper if that is sooner than what it waits for. The caller holds s.mu.
func (s *Supervisor) setExpiry(id contstore.ID, at time.Time) {
	if at.IsZero() {
		return
	}
	s.expiries[id] = at.UnixNano() // contstore keeps expiries within 1970–2262
	s.wakeSweeper()
}

// closeHeld closes every held descriptor (shutdown); the records stay.
func (s *Supervisor) closeHeld() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, h := range s.held {
		for _, fd := range h.fds {
			_ = unix.Close(fd)
		}
		delete(s.held, id)
	}
}

// execTable lets the held continuations of an app share one exec
// description: a process-per-connection server suspends every session with
// the same argv, environment, directory and credentials, and a held copy of
// each would cost about a kilobyte per session (the environment's strings
// above all). It keeps the last description seen per app name; a held
// continuation's Exec is never changed in place (a resume copies it), so
// sharing it is safe. The zero value is ready; the caller holds s.mu.
type execTable struct {
	last map[string]*specs.Process
}

// share returns the app's last exec description if it equals p, and
// otherwise remembers p as the last one and returns it.
func (t *execTable) share(app string, p *specs.Process) *specs.Process {
	if p == nil {
		return nil
	}
	if last := t.last[app]; last != nil && reflect.DeepEqual(last, p) {
		return last
	}
	if t.last == nil {
		t.last = map[string]*specs.Process{}
	}
	t.last[app] = p
	return p
}
