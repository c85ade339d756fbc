//go:build linux

package main

import (
	"errors"
	"os"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
	"golang.org/x/sys/unix"
)

// notifier sends sd_notify messages to NOTIFY_SOCKET through go-systemd.
// Without NOTIFY_SOCKET it sends nothing. A message that cannot be sent is
// logged, never fatal: a server keeps serving when its manager stops
// listening.
type notifier struct {
	log func(string, ...any)
}

func (n notifier) send(state string) {
	if _, err := daemon.SdNotify(false, state); err != nil {
		n.log("notify %q: %v", state, err)
	}
}

// watchdogInterval returns how often to send WATCHDOG=1: half of
// WATCHDOG_USEC when it is set for this process (WATCHDOG_PID), 0 when
// the watchdog is off.
func watchdogInterval(log func(string, ...any)) time.Duration {
	d, err := daemon.SdWatchdogEnabled(false)
	if err != nil {
		log("watchdog off: %v", err)
		return 0
	}
	return d / 2
}

// notifyWithFile sends state with f's descriptor (SCM_RIGHTS) to
// NOTIFY_SOCKET, as sd_pid_notify_with_fds does: go-systemd's daemon
// package sends no descriptors. It reports false, and sends nothing,
// without NOTIFY_SOCKET. A NOTIFY_SOCKET starting with @ names an
// abstract socket, which unix.SockaddrUnix understands.
func notifyWithFile(state string, f *os.File) (bool, error) {
	path := os.Getenv("NOTIFY_SOCKET")
	if path == "" {
		return false, nil
	}
	sock, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return false, os.NewSyscallError("socket", err)
	}
	defer unix.Close(sock)
	rc, err := f.SyscallConn()
	if err != nil {
		return false, err
	}
	var serr error
	cerr := rc.Control(func(fd uintptr) {
		to := &unix.SockaddrUnix{Name: path}
		for {
			serr = unix.Sendmsg(sock, []byte(state), unix.UnixRights(int(fd)), to, 0)
			if !errors.Is(serr, unix.EINTR) {
				return
			}
		}
	})
	if cerr != nil {
		return false, cerr
	}
	if serr != nil {
		return false, os.NewSyscallError("sendmsg", serr)
	}
	return true, nil
}
