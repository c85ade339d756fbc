//go:build linux

package main

import (
	"math"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// closeRangeCloexec is CLOSE_RANGE_CLOEXEC of linux/close_range.h (Linux
// 5.11), which x/sys/unix does not name.
const closeRangeCloexec = 1 << 2

// inheritedCloseOnExec marks every descriptor from 3 on close-on-exec:
// what this process was given is its own to adopt (the connection, a
// resumed session's pty and pipe), never the shell's, and whatever else
// its parent leaked stays here.
func inheritedCloseOnExec() {
	if unix.CloseRange(3, math.MaxUint32, closeRangeCloexec) == nil {
		return
	}
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return
	}
	for _, e := range ents {
		if fd, err := strconv.Atoi(e.Name()); err == nil && fd >= 3 {
			unix.FcntlInt(uintptr(fd), unix.F_SETFD, unix.FD_CLOEXEC)
		}
	}
}
