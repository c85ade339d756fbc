//go:build linux

package fdpass

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Describe tells what fd refers to: fstat for identity and type,
// /proc/self/fd/N for the path or pseudo-name, /proc/self/fdinfo/N for the
// offset, F_GETFL for the status flags, and for sockets and character
// devices the getsockopt and ioctl queries that tell their kinds apart.
// It only queries: nothing about fd changes. A descriptor that is not open
// gives an error wrapping ErrBadFD.
func Describe(fd int) (Description, error) {
	var st unix.Stat_t
	if err := fstat(fd, &st); err != nil {
		return Description{}, fdError("describe", fd, "fstat", err)
	}
	d := Description{Dev: st.Dev, Ino: st.Ino, Mode: st.Mode}
	if t := st.Mode & unix.S_IFMT; t == unix.S_IFCHR || t == unix.S_IFBLK {
		d.Rdev = st.Rdev
	}
	var err error
	if d.Flags, err = unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0); err != nil {
		return Description{}, fdError("describe", fd, "fcntl F_GETFL", err)
	}
	if d.Path, err = readLink(fd); err != nil {
		return Description{}, fmt.Errorf("describe fd %d: %w", fd, err)
	}
	info, err := readFdinfo(fd)
	if err != nil {
		return Description{}, fmt.Errorf("describe fd %d: %w", fd, err)
	}
	if d.Offset, err = parseFdinfoPos(info); err != nil {
		return Description{}, fmt.Errorf("describe fd %d: %w", fd, err)
	}
	if err := classify(fd, &d); err != nil {
		return Description{}, fmt.Errorf("describe fd %d: %w", fd, err)
	}
	return d, nil
}

// classify sets d.Kind, and the socket fields for a socket, from the file
// type and the link target.
func classify(fd int, d *Description) error {
	if strings.HasPrefix(d.Path, "anon_inode:") {
		// Checked first: the mode of an anonymous inode differs across
		// kernels (no file type at all on many).
		d.Kind = anonKind(d.Path)
		return nil
	}
	switch d.Mode & unix.S_IFMT {
	case unix.S_IFSOCK:
		return describeSocket(fd, d)
	case unix.S_IFCHR:
		d.Kind = charKind(fd, d.Rdev)
	case unix.S_IFBLK:
		d.Kind = KindBlockDevice
	case unix.S_IFDIR:
		d.Kind = KindDir
	case unix.S_IFIFO:
		d.Kind = KindFIFO
		if strings.HasPrefix(d.Path, "pipe:[") {
			d.Kind = KindPipe
		}
	case unix.S_IFREG:
		d.Kind = KindFile
		if strings.HasPrefix(d.Path, "/memfd:") {
			d.Kind = KindMemfd
		}
	default:
		d.Kind = KindUnknown
	}
	return nil
}

// anonKind names an anonymous inode from its link target,
// "anon_inode:[eventfd]", "anon_inode:[eventpoll]", "anon_inode:inotify"...
func anonKind(path string) Kind {
	switch path {
	case "anon_inode:[eventfd]":
		return KindEventfd
	case "anon_inode:[eventpoll]":
		return KindEpoll
	}
	return KindAnonInode
}

// Unix98 pty slaves (/dev/pts/N) use character majors 136 to 143; the
// multiplexer /dev/ptmx (and /dev/pts/ptmx) is 5:2.
const (
	ptySlaveMajorFirst = 136
	ptySlaveMajorLast  = 143
	ptmxMajor          = 5
	ptmxMinor          = 2
)

// charKind tells pty slaves, pty masters, other terminals and other
// character devices apart. TIOCGPTN is only asked of a 5:2 device: it
// succeeds exactly on a master, whichever devpts instance it belongs to.
// TCGETS is the isatty test.
func charKind(fd int, rdev uint64) Kind {
	major, minor := unix.Major(rdev), unix.Minor(rdev)
	switch {
	case major >= ptySlaveMajorFirst && major <= ptySlaveMajorLast:
		return KindPTYSlave
	case major == ptmxMajor && minor == ptmxMinor && isPTYMaster(fd):
		return KindPTYMaster
	case isTerminal(fd):
		return KindTTY
	}
	return KindCharDevice
}

func isPTYMaster(fd int) bool {
	_, err := unix.IoctlGetUint32(fd, unix.TIOCGPTN)
	return err == nil
}

func isTerminal(fd int) bool {
	_, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	return err == nil
}

// fstat is fstat(2) retried on EINTR.
func fstat(fd int, st *unix.Stat_t) error {
	for {
		err := unix.Fstat(fd, st)
		if err != unix.EINTR {
			return err
		}
	}
}

// readLink returns the target of /proc/self/fd/N. A descriptor closed
// under us shows as a missing entry: that is ErrBadFD too.
func readLink(fd int) (string, error) {
	target, err := os.Readlink(procPath("fd", fd))
	if errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("read link: %w: %w", ErrBadFD, err)
	}
	if err != nil {
		return "", fmt.Errorf("read link: %w", err)
	}
	return target, nil
}

func procPath(dir string, fd int) string {
	return "/proc/self/" + dir + "/" + strconv.Itoa(fd)
}

// fdError wraps a syscall error on fd with the operation that failed.
func fdError(op string, fd int, call string, err error) error {
	return fmt.Errorf("%s fd %d: %w", op, fd, syscallError(call, err))
}

// syscallError wraps an error of syscall call, adding ErrBadFD for EBADF.
func syscallError(call string, err error) error {
	serr := os.NewSyscallError(call, err)
	if err == unix.EBADF {
		return fmt.Errorf("%w: %w", ErrBadFD, serr)
	}
	return serr
}
