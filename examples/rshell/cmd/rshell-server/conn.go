//go:build linux

package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// connFD is where a connection's descriptor is passed: by migrate-run
// --accept (LISTEN_FDS=1) and by the listener to its children.
const connFD = 3

// errNoConn is returned when descriptor 3 is not a connected stream socket.
var errNoConn = errors.New("no connection")

// isConnected reports whether fd is a connected stream socket (not a
// listening one).
func isConnected(fd int) bool {
	typ, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TYPE)
	if err != nil || typ != unix.SOCK_STREAM {
		return false
	}
	listening, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ACCEPTCONN)
	return err == nil && listening == 0
}

// passedConn reports whether this process was started inetd style: one
// descriptor passed (LISTEN_FDS=1 for this pid), a connection.
func passedConn() bool {
	return os.Getenv("LISTEN_FDS") == "1" && os.Getenv("LISTEN_PID") == strconv.Itoa(os.Getpid()) && isConnected(connFD)
}

// takeConn adopts the connection at descriptor 3 (net.FileConn works on a
// close-on-exec duplicate; 3 is closed) and clears the LISTEN_ variables.
func takeConn() (net.Conn, error) {
	for _, v := range []string{"LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES"} {
		os.Unsetenv(v)
	}
	if !isConnected(connFD) {
		return nil, fmt.Errorf("%w: descriptor %d is not a connected stream socket", errNoConn, connFD)
	}
	f := os.NewFile(connFD, "client")
	conn, err := net.FileConn(f)
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("%w: descriptor %d: %w", errNoConn, connFD, err)
	}
	return conn, nil
}

// stdioOf returns the standard descriptors (0 and 1) that are conn itself,
// as inetd style passes it. They are the session's too: a continuation
// carries them, and the supervisor collapses them into one held socket.
func stdioOf(conn syscall.Conn) []*os.File {
	var id unix.Stat_t
	err := control(conn, func(fd int) error { return unix.Fstat(fd, &id) })
	if err != nil {
		return nil
	}
	var same []*os.File
	for _, f := range []*os.File{os.Stdin, os.Stdout} {
		var st unix.Stat_t
		if control(f, func(fd int) error { return unix.Fstat(fd, &st) }) == nil && st.Dev == id.Dev && st.Ino == id.Ino {
			same = append(same, f)
		}
	}
	return same
}

// control runs fn on c's descriptor without changing its mode.
func control(c syscall.Conn, fn func(fd int) error) error {
	rc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) { ferr = fn(int(fd)) }); err != nil {
		return err
	}
	return ferr
}

// dupOf returns a close-on-exec duplicate of c's descriptor.
func dupOf(c syscall.Conn) (int, error) {
	dup := -1
	err := control(c, func(fd int) error {
		var err error
		dup, err = unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
		return err
	})
	if err != nil {
		return -1, os.NewSyscallError("fcntl F_DUPFD_CLOEXEC", err)
	}
	return dup, nil
}

// fdOf returns c's descriptor number.
func fdOf(c syscall.Conn) int {
	n := -1
	control(c, func(fd int) error { n = fd; return nil })
	return n
}
