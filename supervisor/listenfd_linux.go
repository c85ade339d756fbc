//go:build linux

package supervisor

import (
	"fmt"
	"net"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// listenBacklog is the backlog of the listening sockets the supervisor opens
// for apps.
const listenBacklog = 1024

// openListener opens the listening socket addr names, "tcp://HOST:PORT" or
// "unix:PATH", and returns its descriptor: close-on-exec, blocking (the
// supervisor never accepts on it; the app gets it as systemd would give it),
// owned by the caller.
func openListener(addr string) (int, error) {
	switch {
	case strings.HasPrefix(addr, "tcp://"):
		return listenTCP(strings.TrimPrefix(addr, "tcp://"))
	case strings.HasPrefix(addr, "unix:"):
		return listenUnix(strings.TrimPrefix(addr, "unix:"))
	}
	return -1, fmt.Errorf("open listener %q: neither tcp://HOST:PORT nor unix:PATH: %w", addr, ErrBadConfig)
}

func listenTCP(hostport string) (int, error) {
	ta, err := net.ResolveTCPAddr("tcp", hostport)
	if err != nil {
		return -1, fmt.Errorf("resolve listen address %q: %w", hostport, err)
	}
	family, sa := unix.AF_INET6, unix.Sockaddr(&unix.SockaddrInet6{Port: ta.Port})
	if ip4 := ta.IP.To4(); ip4 != nil {
		family, sa = unix.AF_INET, &unix.SockaddrInet4{Port: ta.Port, Addr: [4]byte(ip4)}
	} else if ta.IP != nil {
		sa.(*unix.SockaddrInet6).Addr = [16]byte(ta.IP.To16())
	}
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, os.NewSyscallError("socket", err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
		unix.Close(fd)
		return -1, os.NewSyscallError("setsockopt SO_REUSEADDR", err)
	}
	return bindListen(fd, sa, "tcp://"+hostport)
}

func listenUnix(path string) (int, error) {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, os.NewSyscallError("socket", err)
	}
	return bindListen(fd, &unix.SockaddrUnix{Name: path}, "unix:"+path)
}

func bindListen(fd int, sa unix.Sockaddr, addr string) (int, error) {
	if err := unix.Bind(fd, sa); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("bind %s: %w", addr, err)
	}
	if err := unix.Listen(fd, listenBacklog); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("listen on %s: %w", addr, err)
	}
	return fd, nil
}

// dupCloexec duplicates fd close-on-exec.
func dupCloexec(fd int) (int, error) {
	nfd, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 3)
	if err != nil {
		return -1, os.NewSyscallError("fcntl F_DUPFD_CLOEXEC", err)
	}
	return nfd, nil
}
