//go:build linux

package migrate

import (
	"fmt"
	"math"
	"syscall"
	"time"

	"github.com/migrate-run/migrate/proto"
)

// A Continuation is what the rest of a session needs (the paper's three
// layers): descriptors, the attribute/value store, and for a complete
// continuation how to start the fresh process.
type Continuation struct {
	// Kind is System, Internal or Complete.
	Kind Kind
	// Files are the descriptors the session needs, at most 253. The
	// library sends close-on-exec duplicates and keeps the app's own open
	// until the supervisor's Ack; after the Ack it closes them (the app
	// must not use them any more). On an error it closes none.
	Files []File
	// Store is set over what the app stored in the session with
	// Session.Store and Export; together they are the continuation's
	// store. A key here replaces the stored one, exported mark included.
	Store []Entry
	// Compat is the compatibility vector the resuming environment must
	// match (the paper's compat_store); ids distinct.
	Compat []CompatTag
	// Expiry is how long the continuation should live, rounded up to whole
	// seconds; 0 takes the supervisor's default (Limits.DefaultExpirySec).
	Expiry time.Duration
	// Exec is how to start the fresh process of a Complete continuation;
	// nil, and each unset field, default to this process's own (see Exec).
	// It must be nil for the other kinds.
	Exec *Exec
}

// A File is one descriptor carried by a continuation.
type File struct {
	// Conn is the descriptor: a *net.TCPConn, *net.UnixConn, *os.File or
	// anything with SyscallConn. It stays the app's until the Ack. A fresh
	// process resuming a Complete continuation gets the descriptor at the
	// number it has here, and an attached process sees that number as
	// AttachedFile.Number.
	Conn syscall.Conn
	// Name is an optional label, e.g. "client"; at most 255 bytes.
	Name string
	// Role says what the descriptor is to the session; 0 means RoleConn.
	Role Role
	// Session marks the session's own connection (MIGRATE_CONT names its
	// number in a fresh process); at most one File has it.
	Session bool
}

// request is a ReturnCont ready to send, with the duplicates it carries.
type request struct {
	msg  *proto.ReturnCont
	dups []int // owned by the request: close after sending
}

// build turns cont into a ReturnCont for session, answering the supervisor
// request reqID (0 when the app suspends on its own). On error nothing
// stays open.
func (cont *Continuation) build(session, reqID uint64, store []Entry) (*request, error) {
	if cont.Kind != System && cont.Kind != Internal && cont.Kind != Complete {
		return nil, fmt.Errorf("%w: continuation kind %v", ErrInvalid, cont.Kind)
	}
	if cont.Kind != Complete && cont.Exec != nil {
		return nil, fmt.Errorf("%w: a %v continuation has no exec description", ErrInvalid, cont.Kind)
	}
	if cont.Expiry < 0 {
		return nil, fmt.Errorf("%w: negative expiry %v", ErrInvalid, cont.Expiry)
	}
	if len(cont.Files) > proto.MaxFDs {
		return nil, fmt.Errorf("%w: %d files, at most %d", ErrInvalid, len(cont.Files), proto.MaxFDs)
	}
	msg := &proto.ReturnCont{
		Session: session, Request: reqID, Kind: cont.Kind,
		Store: store, Compat: cont.Compat, ExpirySec: expirySec(cont.Expiry),
	}
	if cont.Kind == Complete {
		exec, err := cont.Exec.resolve()
		if err != nil {
			return nil, err
		}
		msg.Exec = exec
	}
	dups, err := cont.slots(msg)
	if err != nil {
		return nil, err
	}
	return &request{msg: msg, dups: dups}, nil
}

// slots fills msg.Slots from cont.Files and returns the duplicates.
func (cont *Continuation) slots(msg *proto.ReturnCont) ([]int, error) {
	dups := make([]int, 0, len(cont.Files))
	for i, f := range cont.Files {
		dup, number, err := dupOf(f.Conn)
		if err != nil {
			closeFDs(dups)
			return nil, fmt.Errorf("file %d (%q): %w", i, f.Name, err)
		}
		dups = append(dups, dup)
		role := f.Role
		if role == 0 {
			role = RoleConn
		}
		msg.Slots = append(msg.Slots, proto.Slot{FD: int32(number), Name: f.Name, Role: role, Conn: f.Session})
	}
	return dups, nil
}

// closeFiles closes the app's copies after the supervisor's Ack.
func (cont *Continuation) closeFiles() {
	for _, f := range cont.Files {
		if c, ok := f.Conn.(interface{ Close() error }); ok {
			c.Close()
		}
	}
}

// expirySec rounds d up to whole seconds, saturating.
func expirySec(d time.Duration) uint32 {
	if d == 0 {
		return 0
	}
	s := (d + time.Second - 1) / time.Second
	if s > math.MaxUint32 {
		return math.MaxUint32
	}
	return uint32(s)
}
