//go:build linux

package fdpass

import (
	"bytes"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// kcmpFile is KCMP_FILE from <linux/kcmp.h>: compare two descriptors' open
// file descriptions. x/sys/unix has the syscall number but not the type.
const kcmpFile = 0

// kcmp compares descriptors a and b of this process with kcmp(2); 0 means
// the same open file description. It is a variable so that tests can make
// kcmp unavailable and exercise the fallback.
var kcmp = func(a, b int) (int, error) {
	pid := uintptr(unix.Getpid())
	r, _, errno := unix.Syscall6(unix.SYS_KCMP, pid, pid, kcmpFile, uintptr(a), uintptr(b), 0)
	if errno != 0 {
		return 0, errno
	}
	return int(r), nil
}

// SameFile reports whether descriptors a and b share one open file
// description: one is a dup of the other, or both were received from one
// descriptor. Two separate opens of one file are not the same.
//
// It asks kcmp(2). When kcmp is missing (ENOSYS: a kernel without
// CONFIG_CHECKPOINT_RESTORE) or forbidden (EPERM, EACCES: a seccomp filter),
// it falls back to comparing what fstat, F_GETFL and /proc/self/fdinfo say
// about each; see sameFileByStat for what that fallback cannot tell. A
// descriptor that is not open gives an error wrapping ErrBadFD.
func SameFile(a, b int) (bool, error) {
	r, err := kcmp(a, b)
	switch err {
	case nil:
		return r == 0, nil
	case unix.ENOSYS, unix.EPERM, unix.EACCES:
		return sameFileByStat(a, b)
	case unix.EBADF:
		return false, fmt.Errorf("compare fd %d and %d: %w: %w", a, b, ErrBadFD, os.NewSyscallError("kcmp", err))
	}
	return false, fmt.Errorf("compare fd %d and %d: %w", a, b, os.NewSyscallError("kcmp", err))
}

// sameFileByStat is SameFile without kcmp: a and b are taken to share an
// open file description when they have the same inode (st_dev, st_ino), the
// same status flags and the same fdinfo apart from the flags line (so the
// same offset, mount and per-type state such as eventfd-id).
//
// It is imprecise the one way that matters least: two separate opens of one
// file with equal flags and equal offsets (a tty opened twice, a file opened
// twice and not yet read) look like one. It never calls one open file
// description two, unless a concurrent read or fcntl changes the offset or
// flags between the two lookups.
func sameFileByStat(a, b int) (bool, error) {
	ia, err := fileIdentity(a)
	if err != nil {
		return false, fmt.Errorf("compare fd %d and %d: %w", a, b, err)
	}
	ib, err := fileIdentity(b)
	if err != nil {
		return false, fmt.Errorf("compare fd %d and %d: %w", a, b, err)
	}
	return ia.dev == ib.dev && ia.ino == ib.ino && ia.flags == ib.flags && bytes.Equal(ia.info, ib.info), nil
}

// identity is what sameFileByStat compares.
type identity struct {
	dev, ino uint64
	flags    int
	info     []byte
}

func fileIdentity(fd int) (identity, error) {
	var st unix.Stat_t
	if err := fstat(fd, &st); err != nil {
		return identity{}, fdError("identify", fd, "fstat", err)
	}
	flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
	if err != nil {
		return identity{}, fdError("identify", fd, "fcntl F_GETFL", err)
	}
	info, err := readFdinfo(fd)
	if err != nil {
		return identity{}, fmt.Errorf("identify fd %d: %w", fd, err)
	}
	return identity{dev: st.Dev, ino: st.Ino, flags: flags, info: fdinfoIdentity(info)}, nil
}
