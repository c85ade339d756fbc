//go:build linux

package launcher

import (
	"runtime"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// resetSignalDispositions gives every signal its default action. execve does
// that for caught signals but keeps ignored ones ignored, and the trampoline
// inherits whatever the supervisor ignores (SIGHUP under nohup, anything
// passed to signal.Ignore): the app must not. It runs last before execve;
// the Go runtime no longer handles signals from here on.
func resetSignalDispositions() {
	// A zeroed struct sigaction is SIG_DFL with no flags and an empty mask on
	// every architecture; 64 bytes cover the largest layout.
	var dfl [8]uint64
	for sig := 1; sig <= 64; sig++ {
		if sig == int(unix.SIGKILL) || sig == int(unix.SIGSTOP) {
			continue
		}
		// Errors only for numbers the architecture has no signal for.
		_, _, _ = unix.RawSyscall6(unix.SYS_RT_SIGACTION, uintptr(sig),
			uintptr(unsafe.Pointer(&dfl)), 0, kernelSigsetSize(), 0, 0)
	}
}

// kernelSigsetSize is sizeof(sigset_t) in the kernel: _NSIG/8.
func kernelSigsetSize() uintptr {
	if strings.HasPrefix(runtime.GOARCH, "mips") {
		return 16
	}
	return 8
}

// setSignalMask sets the signal mask of this thread, the one that will
// execve; the app starts with it.
func setSignalMask(mask SigSet) error {
	var set unix.Sigset_t
	const wordBits = 8 * int(unsafe.Sizeof(set.Val[0]))
	for i := 0; i < 64; i++ {
		if mask&(1<<i) != 0 {
			set.Val[i/wordBits] |= 1 << (i % wordBits)
		}
	}
	return unix.PthreadSigmask(unix.SIG_SETMASK, &set, nil)
}
