//go:build linux

package launcher

import (
	"math"
	"os"
	"slices"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// apply sets up the trampoline as the app needs it, in an order where each
// step still has the privilege it needs: rlimits and oom_score_adj before the
// credentials drop, chdir after it (so that the app's own permissions
// decide), no_new_privs last.
func (c *config) apply() error {
	steps := []func() error{
		c.joinCgroups,
		c.closeOthers,
		c.setRlimits,
		c.setOOMScoreAdj,
		c.setUmask,
		c.setCredentials,
		c.chdir,
		c.setNoNewPrivs,
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return err
		}
	}
	return nil
}

// joinCgroups moves the trampoline into its cgroup v1 directories, first
// of all its steps, by writing 0 to their tasks files from this thread,
// the one that will execve. A thread that moves itself is the one move the
// kernel makes without the global lock that costs an RCU grace period
// whenever no other move happened in the last few milliseconds (about 8 ms
// on a quiet 2-core machine, against a tenth of a millisecond this way).
// The runtime's other threads stay where they were: they never run the
// app, and the execve ends them.
func (c *config) joinCgroups() error {
	for _, dir := range c.Cgroups {
		fd, err := unix.Open(dir+"/tasks", unix.O_WRONLY|unix.O_CLOEXEC, 0)
		if err == nil {
			_, err = unix.Write(fd, []byte("0"))
			if closeErr := unix.Close(fd); err == nil {
				err = closeErr
			}
		}
		if err != nil {
			return &StartError{Op: "join cgroup", Path: dir, Err: err}
		}
	}
	return nil
}

// closeOthers marks every descriptor outside the layout close-on-exec: the
// config socket, the trampoline binary's descriptor, whatever the
// supervisor leaked without O_CLOEXEC, and what the Go runtime opened in the
// trampoline (/dev/null on a missing stdio slot, its poller). Closing them
// now could pull one from under the runtime. close_range(2) does it in a
// few calls; where the kernel has no CLOSE_RANGE_CLOEXEC (before 5.11) the
// descriptors are listed from /proc/self/fd.
func (c *config) closeOthers() error {
	if c.closeRanges() == nil {
		return nil
	}
	dir, err := os.Open("/proc/self/fd")
	if err != nil {
		return &StartError{Op: "close descriptors", Err: err}
	}
	names, err := dir.Readdirnames(-1)
	dir.Close()
	if err != nil {
		return &StartError{Op: "close descriptors", Err: err}
	}
	for _, name := range names {
		fd, err := strconv.Atoi(name)
		if _, kept := slices.BinarySearch(c.Keep, fd); err != nil || kept {
			continue
		}
		// EBADF: the directory's own descriptor, closed meanwhile.
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFD, unix.FD_CLOEXEC); err != nil && err != unix.EBADF {
			return &StartError{Op: "close descriptors", Path: name, Err: err}
		}
	}
	return nil
}

// closeRange is unix.CloseRange, a seam for tests.
var closeRange = unix.CloseRange

// closeRanges marks the descriptors between and above the kept ones
// close-on-exec with close_range(2).
func (c *config) closeRanges() error {
	first := 0
	for _, fd := range c.Keep {
		if fd > first {
			if err := closeRange(uint(first), uint(fd-1), unix.CLOSE_RANGE_CLOEXEC); err != nil {
				return err
			}
		}
		first = fd + 1
	}
	return closeRange(uint(first), math.MaxUint32, unix.CLOSE_RANGE_CLOEXEC)
}

// setRlimits uses syscall.Setrlimit, not x/sys: only it tells syscall.Exec
// not to restore the soft RLIMIT_NOFILE the Go runtime raised at start-up.
func (c *config) setRlimits() error {
	for _, rl := range c.Rlimits {
		lim := syscall.Rlimit{Cur: rl.Soft, Max: rl.Hard}
		if err := syscall.Setrlimit(rlimitResources[rl.Type], &lim); err != nil {
			return &StartError{Op: "setrlimit", Path: rl.Type, Err: err}
		}
	}
	return nil
}

// setOOMScoreAdj writes oom_score_adj with plain system calls: an os.File
// would set up the runtime's poller, descriptors and thread included.
func (c *config) setOOMScoreAdj() error {
	if c.OOMScoreAdj == nil {
		return nil
	}
	fd, err := unix.Open("/proc/self/oom_score_adj", unix.O_WRONLY|unix.O_CLOEXEC, 0)
	if err == nil {
		_, err = unix.Write(fd, []byte(strconv.Itoa(*c.OOMScoreAdj)))
		if closeErr := unix.Close(fd); err == nil {
			err = closeErr
		}
	}
	if err != nil {
		return &StartError{Op: "set oom_score_adj", Err: err}
	}
	return nil
}

func (c *config) setUmask() error {
	if c.Umask != nil {
		syscall.Umask(int(*c.Umask))
	}
	return nil
}

// setCredentials sets the supplementary groups, the gid and the uid, real,
// effective and saved, for every thread; each only when it does not hold
// already, so that an unprivileged supervisor can start a process as itself.
func (c *config) setCredentials() error {
	if !sameGroups(c.Groups) {
		gids := make([]int, len(c.Groups))
		for i, g := range c.Groups {
			gids[i] = int(g)
		}
		if err := syscall.Setgroups(gids); err != nil {
			return &StartError{Op: "setgroups", Err: err}
		}
	}
	if r, e, s := unix.Getresgid(); !allEqual(int(c.GID), r, e, s) {
		if err := syscall.Setresgid(int(c.GID), int(c.GID), int(c.GID)); err != nil {
			return &StartError{Op: "setgid", Path: strconv.Itoa(int(c.GID)), Err: err}
		}
	}
	if r, e, s := unix.Getresuid(); !allEqual(int(c.UID), r, e, s) {
		if err := syscall.Setresuid(int(c.UID), int(c.UID), int(c.UID)); err != nil {
			return &StartError{Op: "setuid", Path: strconv.Itoa(int(c.UID)), Err: err}
		}
	}
	return nil
}

func sameGroups(want []uint32) bool {
	have, err := unix.Getgroups()
	if err != nil || len(have) != len(want) {
		return false
	}
	w := make([]int, len(want))
	for i, g := range want {
		w[i] = int(g)
	}
	slices.Sort(have)
	slices.Sort(w)
	return slices.Equal(have, w)
}

func allEqual(want int, ids ...int) bool {
	for _, id := range ids {
		if id != want {
			return false
		}
	}
	return true
}

func (c *config) chdir() error {
	if err := syscall.Chdir(c.Cwd); err != nil {
		return &StartError{Op: "chdir", Path: c.Cwd, Err: err}
	}
	return nil
}

// setNoNewPrivs sets no_new_privs on this thread, the one that will execve.
func (c *config) setNoNewPrivs() error {
	if !c.NoNewPrivs {
		return nil
	}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return &StartError{Op: "set no_new_privs", Err: err}
	}
	return nil
}
