//go:build linux

package pty

import (
	"fmt"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// SetSize sets the terminal size of f, a master or a slave: the kernel
// sends SIGWINCH to the terminal's foreground process group when it
// changes.
func SetSize(f syscall.Conn, rows, cols uint16) error {
	err := control(f, func(fd int) error {
		return unix.IoctlSetWinsize(fd, unix.TIOCSWINSZ, &unix.Winsize{Row: rows, Col: cols})
	})
	if err != nil {
		return fmt.Errorf("set terminal size: %w", os.NewSyscallError("ioctl TIOCSWINSZ", err))
	}
	return nil
}

// Size returns the terminal size of f.
func Size(f syscall.Conn) (rows, cols uint16, err error) {
	err = control(f, func(fd int) error {
		ws, err := unix.IoctlGetWinsize(fd, unix.TIOCGWINSZ)
		if err == nil {
			rows, cols = ws.Row, ws.Col
		}
		return err
	})
	if err != nil {
		return 0, 0, fmt.Errorf("get terminal size: %w", os.NewSyscallError("ioctl TIOCGWINSZ", err))
	}
	return rows, cols, nil
}

// EOFChar returns the terminal's end-of-file character (VEOF, ^D unless
// changed): written to the master, it ends the input of a program reading
// the slave at the start of a line.
func EOFChar(f syscall.Conn) (byte, error) {
	var c byte
	err := control(f, func(fd int) error {
		t, err := unix.IoctlGetTermios(fd, unix.TCGETS)
		if err == nil {
			c = t.Cc[unix.VEOF]
		}
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("get the end-of-file character: %w", os.NewSyscallError("ioctl TCGETS", err))
	}
	return c, nil
}

// Index returns the number of the master's slave (N of /dev/pts/N).
func Index(master syscall.Conn) (int, error) {
	var n uint32
	err := control(master, func(fd int) error {
		var err error
		n, err = unix.IoctlGetUint32(fd, unix.TIOCGPTN)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("get the pty number: %w", os.NewSyscallError("ioctl TIOCGPTN", err))
	}
	return int(n), nil
}

// slaveMajor is the device major of every /dev/pts/N (UNIX98_PTY_SLAVE_MAJOR);
// N is the minor.
const slaveMajor = 136

// TTYNr is the controlling-terminal field (tty_nr) /proc/PID/stat shows
// for a process whose controlling terminal is /dev/pts/index: the kernel's
// new_encode_dev of the slave's device number.
func TTYNr(index int) uint64 {
	minor := uint64(index)
	return minor&0xff | slaveMajor<<8 | (minor&^0xff)<<12
}
