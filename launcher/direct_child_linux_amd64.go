//go:build linux

package launcher

import (
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// directAvailable says whether this architecture has the direct path: the
// vfork-style clone3 needs a few lines of assembly (direct_linux_amd64.s).
const directAvailable = true

// The runtime's fork hooks, the ones syscall.forkExec uses: BeforeFork blocks
// every signal on this thread and makes any stack growth fatal until
// AfterFork (in the parent) undoes both.
//
//go:linkname runtime_BeforeFork syscall.runtime_BeforeFork
func runtime_BeforeFork()

//go:linkname runtime_AfterFork syscall.runtime_AfterFork
func runtime_AfterFork()

// rawClone3 is clone3(2) for a child that shares this stack (assembly).
func rawClone3(args, size uintptr) (pid, errno uintptr)

// directFork creates the child described by d with clone3(CLONE_VM|
// CLONE_VFORK and d.clone's flags) and returns its pid once the child has
// exec'd or exited, or the errno of clone3. The child runs directChild in
// a frame below this one and never returns here: vfork forbids the child to
// touch the frames the parent will return through. The parent only returns
// with the results, written after the child is gone.
//
//go:noinline
//go:norace
//go:nocheckptr
func directFork(d *directPlan) (pid uintptr, errno syscall.Errno) {
	var e uintptr
	runtime_BeforeFork()
	pid, e = rawClone3(uintptr(unsafe.Pointer(&d.clone)), unsafe.Sizeof(d.clone))
	if e != 0 || pid != 0 {
		runtime_AfterFork()
		return pid, syscall.Errno(e)
	}
	directChild(d)
	return 0, 0 // not reached: directChild ends in execve or exit
}

// directChild is the child between clone3 and execve. It runs on the
// parent's goroutine stack, in the parent's memory, with every signal
// blocked: it must not allocate, grow the stack, write a pointer, take a
// lock or call anything but system calls, hence nosplit and norace, and
// everything it reads was prepared by the parent (see directPlan). A failed
// step is recorded in d.fail for the parent, which reads it once the child
// has exited, and ends the child with status 127.
//
//go:nosplit
//go:norace
//go:nocheckptr
func directChild(d *directPlan) {
	var (
		e1  syscall.Errno
		r   uintptr
		i   int
		fd  int
		tmp [24]byte
	)

	// The cgroup v1 directories first of all, each by this thread writing
	// 0 to the tasks file the parent opened (see joinCgroups): no step of
	// the app's setup runs outside its cgroups.
	for i = 0; i < len(d.tasks); i++ {
		tmp[0] = '0'
		r, _, e1 = syscall.RawSyscall(unix.SYS_WRITE, uintptr(d.tasks[i]), uintptr(unsafe.Pointer(&tmp[0])), 1)
		if e1 == 0 && r != 1 {
			e1 = syscall.EIO
		}
		if e1 != 0 {
			directFail(d, stepJoinCgroup, i, e1)
		}
	}

	if d.setsid {
		if _, _, e1 = syscall.RawSyscall(unix.SYS_SETSID, 0, 0, 0); e1 != 0 {
			directFail(d, stepSetsid, 0, e1)
		}
	}
	if d.setpgid {
		if _, _, e1 = syscall.RawSyscall(unix.SYS_SETPGID, 0, uintptr(d.pgid), 0); e1 != 0 {
			directFail(d, stepSetpgid, 0, e1)
		}
	}

	// The layout, as syscall.forkExec places ProcAttr.Files: first every
	// source that a lower target would overwrite is moved out of the way,
	// above every number in use, then each target gets its source.
	fd = d.nextfd
	for i = 0; i < len(d.fds); i++ {
		if d.fds[i] >= 0 && d.fds[i] < i {
			if _, _, e1 = syscall.RawSyscall(unix.SYS_DUP3, uintptr(d.fds[i]), uintptr(fd), unix.O_CLOEXEC); e1 != 0 {
				directFail(d, stepLayout, i, e1)
			}
			d.fds[i] = fd
			fd++
		}
	}
	for i = 0; i < len(d.fds); i++ {
		switch {
		case d.fds[i] < 0:
			// A hole: marked close-on-exec below.
		case d.fds[i] == i:
			_, _, e1 = syscall.RawSyscall(unix.SYS_FCNTL, uintptr(i), unix.F_SETFD, 0)
		default:
			_, _, e1 = syscall.RawSyscall(unix.SYS_DUP3, uintptr(d.fds[i]), uintptr(i), 0)
		}
		if e1 != 0 {
			directFail(d, stepLayout, i, e1)
		}
	}
	if d.setctty {
		if _, _, e1 = syscall.RawSyscall(unix.SYS_IOCTL, uintptr(d.ctty), unix.TIOCSCTTY, 1); e1 != 0 {
			directFail(d, stepSetctty, 0, e1)
		}
	}

	// Everything outside the layout close-on-exec: the gaps between the
	// targets, then all above the highest.
	fd = 0
	for i = 0; i < len(d.keep); i++ {
		if d.keep[i] > fd {
			if _, _, e1 = syscall.RawSyscall(unix.SYS_CLOSE_RANGE, uintptr(fd), uintptr(d.keep[i]-1), unix.CLOSE_RANGE_CLOEXEC); e1 != 0 {
				directFail(d, stepCloseDescriptors, 0, e1)
			}
		}
		fd = d.keep[i] + 1
	}
	if _, _, e1 = syscall.RawSyscall(unix.SYS_CLOSE_RANGE, uintptr(fd), ^uintptr(0)>>32, unix.CLOSE_RANGE_CLOEXEC); e1 != 0 {
		directFail(d, stepCloseDescriptors, 0, e1)
	}

	for i = 0; i < len(d.rlimits); i++ {
		if _, _, e1 = syscall.RawSyscall6(unix.SYS_PRLIMIT64, 0, d.rlimits[i].resource, uintptr(unsafe.Pointer(&d.rlimits[i].lim)), 0, 0, 0); e1 != 0 {
			directFail(d, stepSetrlimit, i, e1)
		}
	}
	// The soft RLIMIT_NOFILE the Go runtime raised, back to what the
	// parent was started with, unless someone changed it since: what
	// syscall.Exec and syscall.StartProcess do.
	if d.restoreNofile {
		var cur syscall.Rlimit
		_, _, e1 = syscall.RawSyscall6(unix.SYS_PRLIMIT64, 0, unix.RLIMIT_NOFILE, 0, uintptr(unsafe.Pointer(&cur)), 0, 0)
		if e1 == 0 && cur.Cur == d.nofile.Max-1 && cur.Max == d.nofile.Max {
			_, _, _ = syscall.RawSyscall6(unix.SYS_PRLIMIT64, 0, unix.RLIMIT_NOFILE, uintptr(unsafe.Pointer(&d.nofile)), 0, 0, 0)
		}
	}

	if len(d.oom) > 0 {
		r, _, e1 = syscall.RawSyscall6(unix.SYS_OPENAT, ^uintptr(99) /* AT_FDCWD, -100 */, uintptr(unsafe.Pointer(&oomPath[0])), unix.O_WRONLY|unix.O_CLOEXEC, 0, 0, 0)
		if e1 == 0 {
			fd = int(r)
			r, _, e1 = syscall.RawSyscall(unix.SYS_WRITE, uintptr(fd), uintptr(unsafe.Pointer(&d.oom[0])), uintptr(len(d.oom)))
			if e1 == 0 && r != uintptr(len(d.oom)) {
				e1 = syscall.EIO
			}
			_, _, _ = syscall.RawSyscall(unix.SYS_CLOSE, uintptr(fd), 0, 0)
		}
		if e1 != 0 {
			directFail(d, stepOOMScoreAdj, 0, e1)
		}
	}
	if d.umask >= 0 {
		_, _, _ = syscall.RawSyscall(unix.SYS_UMASK, uintptr(d.umask), 0, 0)
	}

	// Credentials, each only where the parent found it does not hold
	// already. Raw system calls change this thread only, the only one.
	if d.setGroups {
		r = 0
		if len(d.groups) > 0 {
			r = uintptr(unsafe.Pointer(&d.groups[0]))
		}
		if _, _, e1 = syscall.RawSyscall(unix.SYS_SETGROUPS, uintptr(len(d.groups)), r, 0); e1 != 0 {
			directFail(d, stepSetgroups, 0, e1)
		}
	}
	if d.setGID {
		if _, _, e1 = syscall.RawSyscall(unix.SYS_SETRESGID, uintptr(d.gid), uintptr(d.gid), uintptr(d.gid)); e1 != 0 {
			directFail(d, stepSetgid, 0, e1)
		}
	}
	if d.setUID {
		if _, _, e1 = syscall.RawSyscall(unix.SYS_SETRESUID, uintptr(d.uid), uintptr(d.uid), uintptr(d.uid)); e1 != 0 {
			directFail(d, stepSetuid, 0, e1)
		}
	}
	if _, _, e1 = syscall.RawSyscall(unix.SYS_CHDIR, uintptr(unsafe.Pointer(d.cwd)), 0, 0); e1 != 0 {
		directFail(d, stepChdir, 0, e1)
	}
	if d.noNewPrivs {
		if _, _, e1 = syscall.RawSyscall6(unix.SYS_PRCTL, unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0, 0); e1 != 0 {
			directFail(d, stepNoNewPrivs, 0, e1)
		}
	}

	// LISTEN_PID and the like: this process's pid, in decimal, into the
	// buffers the parent sized for it.
	if len(d.pidVars) > 0 {
		r, _, _ = syscall.RawSyscall(unix.SYS_GETPID, 0, 0, 0)
		fd = len(tmp)
		for {
			fd--
			tmp[fd] = byte('0' + r%10)
			r /= 10
			if r == 0 || fd == 0 {
				break
			}
		}
		for i = 0; i < len(d.pidVars); i++ {
			directPutDigits(d.pidVars[i].buf, d.pidVars[i].at, tmp[fd:])
		}
	}

	// Every signal to its default disposition, then the app's mask: all
	// signals are blocked until this point (runtime_BeforeFork), and none
	// can reach a Go handler from here on.
	for i = 1; i <= 64; i++ {
		if i == int(unix.SIGKILL) || i == int(unix.SIGSTOP) {
			continue
		}
		_, _, _ = syscall.RawSyscall6(unix.SYS_RT_SIGACTION, uintptr(i), uintptr(unsafe.Pointer(&sigactionDefault)), 0, 8, 0, 0)
	}
	if _, _, e1 = syscall.RawSyscall6(unix.SYS_RT_SIGPROCMASK, unix.SIG_SETMASK, uintptr(unsafe.Pointer(&d.sigmask)), 0, 8, 0, 0); e1 != 0 {
		directFail(d, stepSigmask, 0, e1)
	}

	// execve, searching the PATH as execvp does (see execvp).
	d.execReached = 1
	r = 0 // EACCES seen
search:
	for i = 0; i < len(d.paths); i++ {
		_, _, e1 = syscall.RawSyscall(unix.SYS_EXECVE, uintptr(unsafe.Pointer(d.paths[i])), uintptr(unsafe.Pointer(&d.argv[0])), uintptr(unsafe.Pointer(&d.envv[0])))
		if !d.search {
			break
		}
		switch e1 {
		case syscall.EACCES:
			r = 1
		case syscall.ENOENT, syscall.ENOTDIR, syscall.ESTALE, syscall.ENODEV, syscall.ETIMEDOUT:
		default:
			break search
		}
	}
	if d.search && i == len(d.paths) {
		e1 = syscall.ENOENT
		if r != 0 {
			e1 = syscall.EACCES
		}
	}
	directFail(d, stepExec, 0, e1)
}

// directPutDigits copies digits and a NUL into buf at at. The parent sized
// buf for the longest pid.
//
//go:nosplit
//go:norace
func directPutDigits(buf []byte, at int, digits []byte) {
	for _, c := range digits {
		if at >= len(buf)-1 {
			break
		}
		buf[at] = c
		at++
	}
	if at < len(buf) {
		buf[at] = 0
	}
}

// directFail records the failed step for the parent and ends the child.
//
//go:nosplit
//go:norace
func directFail(d *directPlan, step, index int, errno syscall.Errno) {
	d.failStep = int32(step)
	d.failIndex = int32(index)
	d.failErrno = int32(errno)
	for {
		_, _, _ = syscall.RawSyscall(unix.SYS_EXIT_GROUP, exitFailed, 0, 0)
	}
}

// sigactionDefault is a struct sigaction of SIG_DFL with no flags and an
// empty mask (all zero), read-only.
var sigactionDefault [4]uint64

// oomPath is /proc/self/oom_score_adj as a C string: opened by the child,
// /proc/self is the child.
var oomPath = []byte("/proc/self/oom_score_adj\x00")
