//go:build linux && !amd64

package launcher

import "syscall"

// directAvailable says whether this architecture has the direct path: not
// yet, it needs the vfork-style clone3 of direct_linux_amd64.s ported.
const directAvailable = false

func directFork(*directPlan) (uintptr, syscall.Errno) { return 0, syscall.ENOSYS }
