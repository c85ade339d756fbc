package contstore

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every error a Store method returns wraps at most one of
// them (test with errors.Is) behind a verb phrase naming the operation and the
// record, for example "get continuation 42: not found".
var (
	// ErrNotFound is returned when the continuation, session, compat vector or
	// meta key asked for does not exist.
	ErrNotFound = errors.New("not found")

	// ErrExists is returned by Put when a continuation with the same ID is
	// already stored. Nothing is written.
	ErrExists = errors.New("already exists")

	// ErrIDsExhausted is returned by Put and PutSession when they must
	// assign an id and the sequence has reached 2^64-1, which only a
	// caller-given id can make it do. Nothing is written.
	ErrIDsExhausted = errors.New("ids exhausted")

	// ErrInvalid is returned when a record fails validation; the error is a
	// *ValidationError naming the field. Nothing is written.
	ErrInvalid = errors.New("invalid record")

	// ErrStateMismatch is returned by Transition when the continuation is not
	// in the state the caller expected; the error is a *StateError carrying
	// the actual state. Nothing is written.
	ErrStateMismatch = errors.New("state mismatch")

	// ErrTransition is returned by Transition for a move the state machine
	// forbids (see CanTransition), whatever the stored state. Nothing is
	// written.
	ErrTransition = errors.New("transition not allowed")

	// ErrInUse is returned by DeleteSession while continuations of that
	// session are stored.
	ErrInUse = errors.New("in use")

	// ErrReadOnly is returned by every write on a store opened with
	// Options.ReadOnly.
	ErrReadOnly = errors.New("store is read-only")

	// ErrClosed is returned by every method called after Close.
	ErrClosed = errors.New("store is closed")

	// ErrLocked is returned by Open when another process (or another Store in
	// this process) holds the file and Options.Timeout ran out; the error is
	// a *LockedError naming the holder when the kernel tells.
	ErrLocked = errors.New("store is locked")

	// ErrCorrupt is returned by Open, Check and reads when the file is not a
	// well-formed store: not a bbolt file, a bad or zeroed meta page, a
	// truncated file, an undecodable record, a broken index.
	ErrCorrupt = errors.New("store is corrupt")

	// ErrSchema is returned by Open when the store's schema version is not the
	// one this build reads; the error is a *SchemaError.
	ErrSchema = errors.New("unsupported schema")
)

// ValidationError says which field of a record is wrong and why. It wraps
// ErrInvalid.
type ValidationError struct {
	Field   string // Go field path, e.g. "Slots[2].Held"
	Problem string // what is wrong with it, e.g. "held index 3 out of range [0, 2)"
}

func (e *ValidationError) Error() string { return e.Field + ": " + e.Problem }

// Unwrap returns ErrInvalid.
func (e *ValidationError) Unwrap() error { return ErrInvalid }

func invalid(field, format string, args ...any) error {
	return &ValidationError{Field: field, Problem: fmt.Sprintf(format, args...)}
}

// StateError is Transition's compare-and-set failure: the continuation was in
// Actual, not in Expected. It wraps ErrStateMismatch.
type StateError struct {
	ID       ID
	Expected State
	Actual   State
}

func (e *StateError) Error() string {
	return fmt.Sprintf("continuation %s is %s, not %s", e.ID, e.Actual, e.Expected)
}

// Unwrap returns ErrStateMismatch.
func (e *StateError) Unwrap() error { return ErrStateMismatch }

// LockedError says who holds the store's file lock. It wraps ErrLocked.
type LockedError struct {
	Path    string
	PID     int    // holder's process id as /proc/locks reports it; 0 when unknown
	Command string // holder's /proc/PID/comm; empty when unknown
}

func (e *LockedError) Error() string {
	switch {
	case e.PID > 0 && e.Command != "":
		return fmt.Sprintf("locked by pid %d (%s)", e.PID, e.Command)
	case e.PID > 0:
		return fmt.Sprintf("locked by pid %d", e.PID)
	}
	return "locked by another process"
}

// Unwrap returns ErrLocked.
func (e *LockedError) Unwrap() error { return ErrLocked }

// SchemaError reports a store written with a schema this build does not read.
// Found is 0 for a bbolt file that holds buckets but no contstore schema. It
// wraps ErrSchema.
type SchemaError struct {
	Found     int
	Supported int
}

func (e *SchemaError) Error() string {
	if e.Found == 0 {
		return fmt.Sprintf("file has no contstore schema version (this build reads version %d)", e.Supported)
	}
	return fmt.Sprintf("schema version %d, this build reads version %d", e.Found, e.Supported)
}

// Unwrap returns ErrSchema.
func (e *SchemaError) Unwrap() error { return ErrSchema }
