//go:build linux

package supervisor

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// lockTries bounds how often lockParent opens the lock file again because
// a releasing holder unlinked it between the open and the flock.
const lockTries = 8

// parentLock is a supervisor's exclusive hold on its cgroup parent: an
// flock on a file that names the parent, taken without waiting and kept
// for the supervisor's life. The kernel drops it when the descriptor goes,
// so a supervisor that crashes releases it too; its apps, which never
// inherit the descriptor (close-on-exec), do not keep it.
type parentLock struct {
	fd   int // close-on-exec; owned by the lock
	path string
}

// lockDir is where the lock files live: the directory of DefaultSocket
// (/run/migrate as root), whatever socket the supervisor listens on, since
// the cgroup parent is the host's, not the socket's.
func lockDir() string { return filepath.Dir(DefaultSocket()) }

// lockFileName names the lock of a cgroup parent ("apps/migrate" gives
// "cgroup-apps%2Fmigrate.lock"): the escape keeps '/' out of the name and
// two parents from sharing one.
func lockFileName(parent string) string {
	return "cgroup-" + url.PathEscape(strings.TrimPrefix(parent, "/")) + ".lock"
}

// lockParent takes the lock of parent in dir (created 0700). When another
// open file description holds it, it fails with a *ParentInUseError and
// has changed nothing but, perhaps, created dir.
func lockParent(dir, parent string) (*parentLock, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("lock cgroup parent %q: %w", parent, err)
	}
	path := filepath.Join(dir, lockFileName(parent))
	for range lockTries {
		l, err := tryLock(path, parent)
		if l != nil || err != nil {
			return l, err
		}
	}
	return nil, fmt.Errorf("lock cgroup parent %q with %s: the file keeps being replaced", parent, path)
}

// tryLock opens path and flocks it. It returns nil, nil when the file it
// locked is no longer the one at path: the holder removed it as it let go,
// and the caller opens the new one.
func tryLock(path, parent string) (*parentLock, error) {
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_CREAT|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock cgroup parent %q: %w", parent, &os.PathError{Op: "open", Path: path, Err: err})
	}
	if err := flockNB(fd); err != nil {
		pid, comm := lockHolder(fd)
		_ = unix.Close(fd)
		if errors.Is(err, unix.EWOULDBLOCK) {
			err = &ParentInUseError{Parent: parent, Lock: path, PID: pid, Command: comm}
		}
		return nil, fmt.Errorf("lock cgroup parent %q with %s: %w", parent, path, err)
	}
	if !samePath(fd, path) {
		_ = unix.Close(fd)
		return nil, nil
	}
	return &parentLock{fd: fd, path: path}, nil
}

func flockNB(fd int) error {
	for {
		err := unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB)
		if err != unix.EINTR {
			return err
		}
	}
}

// samePath reports whether path still names the file open at fd.
func samePath(fd int, path string) bool {
	var open, named unix.Stat_t
	if unix.Fstat(fd, &open) != nil || unix.Lstat(path, &named) != nil {
		return false
	}
	return open.Dev == named.Dev && open.Ino == named.Ino
}

// release removes the lock file, then lets the lock go: anyone who opened
// the file meanwhile finds, once it gets the flock, that the file is gone
// (samePath) and opens a new one. Nothing is left behind on a clean exit.
// A nil lock is fine.
func (l *parentLock) release() {
	if l == nil || l.fd < 0 {
		return
	}
	_ = unix.Unlink(l.path)
	_ = unix.Close(l.fd)
	l.fd = -1
}

// lockHolder finds the process holding an flock on fd's file in
// /proc/locks, whose lines read
//
//	1: FLOCK  ADVISORY  WRITE 12345 fe:00:246947 0 EOF
//	1: -> FLOCK  ADVISORY  WRITE 12346 fe:00:246947 0 EOF   (a waiter)
//
// with the device as hex major:minor. It returns 0 and "" when it cannot
// tell (no /proc, another pid namespace).
func lockHolder(fd int) (pid int, comm string) {
	var st unix.Stat_t
	if unix.Fstat(fd, &st) != nil {
		return 0, ""
	}
	data, err := os.ReadFile("/proc/locks")
	if err != nil {
		return 0, ""
	}
	want := fmt.Sprintf("%02x:%02x:%d", unix.Major(st.Dev), unix.Minor(st.Dev), st.Ino)
	for line := range strings.SplitSeq(string(data), "\n") {
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
