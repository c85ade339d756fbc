package launcher

import (
	"os"
	"sync/atomic"
)

// Mode chooses how Start creates processes; see "Two ways to start" in the
// package documentation.
type Mode int32

const (
	// ModeAuto, the default, starts a process directly from a forked
	// child of the caller whenever the direct path can honour the Spec on
	// this machine, and through the trampoline otherwise.
	ModeAuto Mode = iota

	// ModeTrampoline always starts the process through the trampoline.
	ModeTrampoline
)

// ModeEnv is the environment variable that sets the mode a binary starts
// with: "trampoline" for ModeTrampoline; anything else, or nothing, is
// ModeAuto. SetMode overrides it.
const ModeEnv = "MIGRATE_LAUNCHER"

var mode atomic.Int32

func init() {
	if os.Getenv(ModeEnv) == "trampoline" {
		mode.Store(int32(ModeTrampoline))
	}
}

// SetMode sets how Start creates processes from now on, and returns the
// mode it replaces. Starts already under way finish the way they began.
func SetMode(m Mode) Mode {
	return Mode(mode.Swap(int32(m)))
}

func currentMode() Mode { return Mode(mode.Load()) }

// String returns "auto" or "trampoline".
func (m Mode) String() string {
	if m == ModeTrampoline {
		return "trampoline"
	}
	return "auto"
}
