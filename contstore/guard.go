package contstore

import (
	"fmt"
	"runtime/debug"

	bolt "go.etcd.io/bbolt"
)

// guard runs fn with memory faults turned into panics (bbolt reads through a
// shared mapping and follows page ids unchecked, so a damaged file makes it
// fault or fail an assertion) and turns a panic into an error wrapping
// ErrCorrupt instead of a crash.
func guard(fn func() error) (err error) {
	old := debug.SetPanicOnFault(true)
	defer func() {
		debug.SetPanicOnFault(old)
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: bbolt panicked: %v", ErrCorrupt, r)
		}
	}()
	return fn()
}

// faultsPanic wraps a transaction function for db.Batch, which may run it on
// a goroutine of its own: faults there become panics too, which Batch
// recovers and answers by re-running fn on the caller's goroutine, inside
// guard.
func faultsPanic(fn func(*bolt.Tx) error) func(*bolt.Tx) error {
	return func(tx *bolt.Tx) error {
		defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
		return fn(tx)
	}
}
