//go:build linux

// Package listenfds gives an example server its listening socket: the first
// one passed by systemd's convention (LISTEN_FDS, as migrate-run --listen
// passes them), or one it opens on an address.
package listenfds

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// firstFD is where passed sockets start (SD_LISTEN_FDS_START).
const firstFD = 3

// ErrNone is returned when no socket was passed and no address given.
var ErrNone = errors.New("no listening socket: pass --addr HOST:PORT or run under migrate-run --listen")

// Listen returns the first socket passed with LISTEN_FDS when LISTEN_PID
// names this process, and otherwise listens on addr. It unsets LISTEN_FDS,
// LISTEN_PID and LISTEN_FDNAMES either way, so children do not take
// descriptors meant for this process; the passed sockets other than the
// first are left alone.
func Listen(addr string) (net.Listener, error) {
	n, err := passed()
	os.Unsetenv("LISTEN_FDS")
	os.Unsetenv("LISTEN_PID")
	os.Unsetenv("LISTEN_FDNAMES")
	if err != nil {
		return nil, err
	}
	if n > 0 {
		return adopt(firstFD)
	}
	if addr == "" {
		return nil, ErrNone
	}
	return net.Listen("tcp", addr)
}

// passed returns how many sockets were passed to this process.
func passed() (int, error) {
	fds, pid := os.Getenv("LISTEN_FDS"), os.Getenv("LISTEN_PID")
	if fds == "" || pid != strconv.Itoa(os.Getpid()) {
		return 0, nil // not set, or meant for another process
	}
	n, err := strconv.Atoi(fds)
	if err != nil || n < 0 || n > 1<<16 {
		return 0, fmt.Errorf("LISTEN_FDS=%q is not a count of descriptors", fds)
	}
	return n, nil
}

// adopt makes a net.Listener of the passed descriptor fd and closes fd
// (net.FileListener works on a close-on-exec duplicate).
func adopt(fd int) (net.Listener, error) {
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err != nil {
		return nil, fmt.Errorf("passed descriptor %d: %w", fd, err)
	}
	f := os.NewFile(uintptr(fd), "listen-fd")
	defer f.Close()
	ln, err := net.FileListener(f)
	if err != nil {
		return nil, fmt.Errorf("passed descriptor %d: %w", fd, err)
	}
	return ln, nil
}
