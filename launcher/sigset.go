package launcher

import "syscall"

// SigSet is a set of signals 1 to 64, signal n at bit n-1: the layout of the
// SigBlk, SigIgn and SigCgt fields of /proc/<pid>/status, which read as hex
// numbers convert to a SigSet directly.
type SigSet uint64

// SigSetOf returns the set of the given signals. Signals outside 1 to 64
// are left out.
func SigSetOf(sigs ...syscall.Signal) SigSet {
	var s SigSet
	for _, sig := range sigs {
		if sig >= 1 && sig <= 64 {
			s |= 1 << (sig - 1)
		}
	}
	return s
}

// Has reports whether sig is in the set.
func (s SigSet) Has(sig syscall.Signal) bool {
	return sig >= 1 && sig <= 64 && s&(1<<(sig-1)) != 0
}
