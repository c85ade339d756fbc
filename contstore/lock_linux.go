//go:build linux

package contstore

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// lockPoll is how often Open retries a held lock: flock has no timed wait.
const lockPoll = 10 * time.Millisecond

// lockFile takes the store's flock on f, exclusive for a writer and shared
// for a reader, retrying until timeout has passed (one try when it is not
// positive). bbolt later flocks the same open file description, which the
// kernel grants at once. A lock that stays held is a *LockedError.
func lockFile(f *os.File, exclusive bool, timeout time.Duration) error {
	how := unix.LOCK_SH
	if exclusive {
		how = unix.LOCK_EX
	}
	deadline := time.Now().Add(timeout)
	for {
		err := flock(f, how|unix.LOCK_NB)
		if !errors.Is(err, unix.EWOULDBLOCK) {
			return err
		}
		wait := time.Until(deadline)
		if wait <= 0 {
			pid, comm := lockHolder(f)
			return &LockedError{Path: f.Name(), PID: pid, Command: comm}
		}
		time.Sleep(min(wait, lockPoll))
	}
}

// flock goes through SyscallConn rather than Fd, which would put the file
// in blocking mode for good.
func flock(f *os.File, how int) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) {
		for {
			if ferr = unix.Flock(int(fd), how); ferr != unix.EINTR {
				return
			}
		}
	}); err != nil {
		return err
	}
	if ferr != nil {
		return os.NewSyscallError("flock", ferr)
	}
	return nil
}

// lockHolder finds the process holding a flock on f's inode in /proc/locks,
// whose lines read
//
//	1: FLOCK  ADVISORY  WRITE 12345 fe:00:246947 0 EOF
//	1: -> FLOCK  ADVISORY  WRITE 12346 fe:00:246947 0 EOF   (a waiter)
//
// with the device as hex major:minor. It returns 0 and "" when it cannot
// tell (no /proc, another pid namespace, a file system whose st_dev is not
// the superblock's).
func lockHolder(f *os.File) (pid int, comm string) {
	info, err := f.Stat()
	if err != nil {
		return 0, ""
	}
	st, ok := info.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, ""
	}
	data, err := os.ReadFile("/proc/locks")
	if err != nil {
		return 0, ""
	}
	want := fmt.Sprintf("%02x:%02x:%d", unix.Major(st.Dev), unix.Minor(st.Dev), st.Ino)
	for _, line := range strings.Split(string(data), "\n") {
		fields := strings.Fields(line)
		if len(fields) < 6 || fields[1] != "FLOCK" || fields[5] != want {
			continue
		}
		if pid, err = strconv.Atoi(fields[4]); err != nil || pid <= 0 {
			return 0, ""
		}
		name, _ := os.ReadFile("/proc/" + fields[4] + "/comm")
		return pid, strings.TrimSpace(string(name))
	}
	return 0, ""
}
