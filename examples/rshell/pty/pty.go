//go:build linux

// Package pty allocates pseudo-terminals for rshell-server and takes over
// one inherited from a suspended server, with the master in Go's poller
// (non-blocking, so reads and writes take deadlines) and every descriptor
// close-on-exec.
//
// # Basics
//
// Open returns a master and its slave. The slave goes to the shell (its
// standard streams and controlling terminal); the server closes its own
// copy, so that once the shell and everything it started are gone, reading
// the master fails with EIO. Adopt turns a master inherited at a
// descriptor number back into an *os.File.
//
// # Caveats
//
// github.com/creack/pty is not used: its Open calls Fd on the master,
// which switches it to blocking mode and so takes deadlines away. The
// slave is opened with TIOCGPTPEER (Linux 4.13), which cannot be fooled by
// another devpts mounted over /dev/pts.
package pty

import (
	"errors"
	"fmt"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// ErrNotPTY is returned by Adopt for a descriptor that is not a
// pseudo-terminal master.
var ErrNotPTY = errors.New("not a pseudo-terminal master")

// Open allocates a pseudo-terminal. The caller owns both files: master is
// non-blocking (its Read and Write take deadlines), slave is blocking and
// is not this process's controlling terminal; both are close-on-exec.
func Open() (master, slave *os.File, err error) {
	mfd, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("open pty: %w", &os.PathError{Op: "open", Path: "/dev/ptmx", Err: err})
	}
	if err := unix.IoctlSetPointerInt(mfd, unix.TIOCSPTLCK, 0); err != nil {
		unix.Close(mfd)
		return nil, nil, fmt.Errorf("open pty: %w", os.NewSyscallError("ioctl TIOCSPTLCK", err))
	}
	sfd, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(mfd), unix.TIOCGPTPEER, unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC)
	if errno != 0 {
		unix.Close(mfd)
		return nil, nil, fmt.Errorf("open pty: %w", os.NewSyscallError("ioctl TIOCGPTPEER", errno))
	}
	n, _ := unix.IoctlGetUint32(mfd, unix.TIOCGPTN)
	return os.NewFile(uintptr(mfd), "/dev/ptmx"), os.NewFile(sfd, fmt.Sprintf("/dev/pts/%d", n)), nil
}

// Adopt takes over a pseudo-terminal master inherited at fd (a resumed
// server's): it checks that fd is one, makes it close-on-exec and
// non-blocking, and returns it as an *os.File that owns fd. On error fd is
// left as it was.
func Adopt(fd int) (*os.File, error) {
	n, err := unix.IoctlGetUint32(fd, unix.TIOCGPTN)
	if err != nil {
		return nil, fmt.Errorf("adopt pty at descriptor %d: %w (%w)", fd, ErrNotPTY, os.NewSyscallError("ioctl TIOCGPTN", err))
	}
	if err := cloexecNonblock(fd); err != nil {
		return nil, fmt.Errorf("adopt pty at descriptor %d: %w", fd, err)
	}
	return os.NewFile(uintptr(fd), fmt.Sprintf("/dev/ptmx (pts %d)", n)), nil
}

// cloexecNonblock sets FD_CLOEXEC and O_NONBLOCK on fd. os.NewFile puts a
// descriptor in the poller only if it is non-blocking already.
func cloexecNonblock(fd int) error {
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFD, unix.FD_CLOEXEC); err != nil {
		return os.NewSyscallError("fcntl F_SETFD", err)
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		return os.NewSyscallError("fcntl F_SETFL", err)
	}
	return nil
}

// control runs fn on f's descriptor without taking it out of the poller.
func control(f syscall.Conn, fn func(fd int) error) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) { ferr = fn(int(fd)) }); err != nil {
		return err
	}
	return ferr
}
