package contstore

import (
	"fmt"
	"runtime/debug"
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
