//go:build linux

package launcher

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The steps the direct child may fail, indexes of stepOps.
const (
	stepNone = iota
	stepJoinCgroup
	stepSetsid
	stepSetpgid
	stepLayout
	stepSetctty
	stepCloseDescriptors
	stepSetrlimit
	stepOOMScoreAdj
	stepSetgroups
	stepSetgid
	stepSetuid
	stepChdir
	stepNoNewPrivs
	stepSigmask
	stepExec
)

// stepOps are the StartError.Op of the steps: the trampoline's names, and
// names of their own for what syscall.StartProcess does for the trampoline
// (session, process group, layout, controlling terminal).
var stepOps = [...]string{
	stepNone:             "",
	stepJoinCgroup:       "join cgroup",
	stepSetsid:           "setsid",
	stepSetpgid:          "setpgid",
	stepLayout:           "place descriptors",
	stepSetctty:          "set controlling terminal",
	stepCloseDescriptors: "close descriptors",
	stepSetrlimit:        "setrlimit",
	stepOOMScoreAdj:      "set oom_score_adj",
	stepSetgroups:        "setgroups",
	stepSetgid:           "setgid",
	stepSetuid:           "setuid",
	stepChdir:            "chdir",
	stepNoNewPrivs:       "set no_new_privs",
	stepSigmask:          "set signal mask",
	stepExec:             "exec",
}

// cloneArgs is struct clone_args of clone3(2), up to the cgroup field.
type cloneArgs struct {
	flags      uint64
	pidFD      uint64 // int *
	childTID   uint64
	parentTID  uint64
	exitSignal uint64
	stack      uint64
	stackSize  uint64
	tls        uint64
	setTID     uint64
	setTIDSize uint64
	cgroup     uint64
}

// directRlimit is one rlimit, ready for prlimit64.
type directRlimit struct {
	resource uintptr
	lim      syscall.Rlimit
}

// pidVar is an environment entry NAME= in a buffer with room for the
// digits of any pid and a NUL, which the child writes from at.
type pidVar struct {
	buf []byte
	at  int
}

// directPlan is everything the direct child needs, built by the parent
// before the fork for one start: the child only reads it, but for the fds
// scratch copy and the results at the end.
type directPlan struct {
	clone cloneArgs

	tasks []int // open tasks files of the cgroup v1 directories

	setsid, setpgid bool
	pgid            int

	fds    []int // the layout: fds[target] is the source, -1 a hole; the child rewrites it
	nextfd int   // above every source and target
	keep   []int // the targets, ascending

	setctty bool
	ctty    int

	rlimits       []directRlimit
	restoreNofile bool
	nofile        syscall.Rlimit // the soft RLIMIT_NOFILE to restore, see nofileRestore

	oom   []byte // oom_score_adj in decimal; empty: leave it
	umask int    // -1: leave it

	setGroups, setGID, setUID bool
	groups                    []uint32
	gid, uid                  uint32

	cwd        *byte
	noNewPrivs bool
	pidVars    []pidVar
	sigmask    uint64

	search bool    // paths are PATH candidates, searched like execvp
	paths  []*byte // what to execve
	argv   []*byte // NULL-terminated
	envv   []*byte // NULL-terminated

	// Written by clone3 and by the child, read by the parent once the
	// child has exec'd or exited.
	pidfd       int32
	execReached int32
	failStep    int32
	failIndex   int32
	failErrno   int32
}

// errDirectRefused says the direct path cannot start this spec here: Start
// uses the trampoline.
var errDirectRefused = errors.New("direct start refused")

// noClone3 is set once the kernel said it has no clone3.
var noClone3 atomic.Bool

// Seams for tests: directCloneHook, when set, runs instead of clone3 and
// returns the errno clone3 gives.
var directCloneHook func() syscall.Errno

// canDirect says whether the direct path can start p, before any work.
func (p *plan) canDirect() bool {
	if !directAvailable || currentMode() == ModeTrampoline || noClone3.Load() {
		return false
	}
	// The direct child marks descriptors close-on-exec with close_range
	// only; a kernel without CLOSE_RANGE_CLOEXEC gets the trampoline,
	// which lists /proc/self/fd.
	if !closeRangeWorks() {
		return false
	}
	if _, err := nofileRestore(); err != nil {
		return false
	}
	return true
}

// closeRangeWorks tries close_range(CLOSE_RANGE_CLOEXEC) on a range where
// no descriptor can be open. It goes through the closeRange seam, so that
// the tests that take it away take the direct path away too.
func closeRangeWorks() bool {
	return closeRange(1<<31-2, 1<<31-1, unix.CLOSE_RANGE_CLOEXEC) == nil
}

// startDirect starts p with the direct path. It returns errDirectRefused
// when the kernel refused clone3: nothing was started, and the caller
// starts the trampoline instead.
func (p *plan) startDirect() (*Process, error) {
	d, err := p.directPlan()
	if err != nil {
		return nil, err
	}
	defer func() {
		for _, fd := range d.tasks {
			unix.Close(fd)
		}
	}()
	cgfd := -1
	if dir := v2Dir(p.cgroups); dir != "" {
		if cgfd, err = unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0); err != nil {
			return nil, errDirectRefused // the trampoline path says why
		}
		defer unix.Close(cgfd)
		d.clone.flags |= unix.CLONE_INTO_CGROUP
		d.clone.cgroup = uint64(cgfd)
	}
	d.clone.flags |= unix.CLONE_VM | unix.CLONE_VFORK | unix.CLONE_PIDFD
	d.clone.exitSignal = uint64(unix.SIGCHLD)
	d.pidfd = -1
	d.clone.pidFD = uint64(uintptr(unsafe.Pointer(&d.pidfd)))

	var pid uintptr
	var errno syscall.Errno
	if directCloneHook != nil {
		errno = directCloneHook()
	}
	if errno == 0 {
		pid, errno = directFork(d)
	}
	runtime.KeepAlive(d)
	if errno != 0 {
		if errno == syscall.ENOSYS {
			noClone3.Store(true)
		}
		return nil, errDirectRefused
	}
	c := &child{pid: int(pid), pidfd: int(d.pidfd), cloned: cgfd >= 0}
	defer c.close()
	if d.failStep != stepNone {
		c.killAndReap()
		return nil, d.failure(p)
	}
	if d.execReached == 0 {
		status := c.killAndReap()
		return nil, fmt.Errorf("launch %s: %w (%s)", p.name, ErrTrampolineExited, status)
	}
	proc, _ := os.FindProcess(c.pid) // never fails on Linux; holds a pidfd where there are pidfds
	return &Process{Pid: c.pid, ClonedIntoCgroup: c.cloned, proc: proc, direct: true}, nil
}

// failure is the StartError of the step the child failed.
func (d *directPlan) failure(p *plan) error {
	step, i := int(d.failStep), int(d.failIndex)
	op := "unknown step " + strconv.Itoa(step)
	if step > 0 && step < len(stepOps) {
		op = stepOps[step]
	}
	se := &StartError{Op: op, Err: syscall.Errno(d.failErrno)}
	cfg := p.cfg
	switch step {
	case stepJoinCgroup:
		if i >= 0 && i < len(cfg.Cgroups) {
			se.Path = cfg.Cgroups[i]
		}
	case stepSetrlimit:
		if i >= 0 && i < len(cfg.Rlimits) {
			se.Path = cfg.Rlimits[i].Type
		}
	case stepSetgid:
		se.Path = strconv.Itoa(int(cfg.GID))
	case stepSetuid:
		se.Path = strconv.Itoa(int(cfg.UID))
	case stepChdir:
		se.Path = cfg.Cwd
	case stepExec:
		se.Path = cfg.Args[0]
	case stepLayout:
		se.Path = strconv.Itoa(i)
	}
	return se
}

// directPlan builds what the direct child needs for one start. It opens
// the tasks files of the cgroup v1 directories: the caller closes d.tasks.
func (p *plan) directPlan() (*directPlan, error) {
	cfg := p.cfg
	d := &directPlan{
		setsid:     p.sys.Setsid,
		setpgid:    p.sys.Setpgid,
		pgid:       p.sys.Pgid,
		setctty:    p.sys.Setctty,
		ctty:       p.sys.Ctty,
		keep:       cfg.Keep,
		umask:      -1,
		noNewPrivs: cfg.NoNewPrivs,
		sigmask:    uint64(cfg.SigMask),
	}
	// The layout: p.files less the config socket's slot.
	d.fds = make([]int, len(p.files)-1)
	d.nextfd = len(d.fds)
	for i, src := range p.files[:len(p.files)-1] {
		d.fds[i] = -1
		if src != closedSlot {
			d.fds[i] = int(src)
			d.nextfd = max(d.nextfd, int(src))
		}
	}
	d.nextfd++

	for _, rl := range cfg.Rlimits {
		d.rlimits = append(d.rlimits, directRlimit{uintptr(rlimitResources[rl.Type]), syscall.Rlimit{Cur: rl.Soft, Max: rl.Hard}})
	}
	if !hasRlimit(cfg, "RLIMIT_NOFILE") {
		lim, err := nofileRestore()
		if err != nil {
			return nil, errDirectRefused
		}
		if lim != nil {
			d.restoreNofile, d.nofile = true, *lim
		}
	}
	if cfg.OOMScoreAdj != nil {
		d.oom = []byte(strconv.Itoa(*cfg.OOMScoreAdj))
	}
	if cfg.Umask != nil {
		d.umask = int(*cfg.Umask)
	}
	d.setGroups = !sameGroups(cfg.Groups)
	d.groups = cfg.Groups
	if r, e, s := unix.Getresgid(); !allEqual(int(cfg.GID), r, e, s) {
		d.setGID, d.gid = true, cfg.GID
	}
	if r, e, s := unix.Getresuid(); !allEqual(int(cfg.UID), r, e, s) {
		d.setUID, d.uid = true, cfg.UID
	}
	var err error
	if d.cwd, err = syscall.BytePtrFromString(cfg.Cwd); err != nil {
		return nil, invalid("working directory: %w", err) // validate refused it already
	}

	if err := d.buildExec(cfg); err != nil {
		return nil, err
	}

	for i, dir := range cfg.Cgroups {
		fd, err := unix.Open(dir+"/tasks", unix.O_WRONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			for _, fd := range d.tasks {
				unix.Close(fd)
			}
			return nil, &StartError{Op: "join cgroup", Path: cfg.Cgroups[i], Err: err}
		}
		d.tasks = append(d.tasks, fd)
	}
	return d, nil
}

func hasRlimit(cfg *config, name string) bool {
	for _, rl := range cfg.Rlimits {
		if rl.Type == name {
			return true
		}
	}
	return false
}

// buildExec prepares argv, the environment with room for the pid
// variables, and the paths to try, as the trampoline's execvp does.
func (d *directPlan) buildExec(cfg *config) error {
	pidNames := map[string]bool{}
	env := cfg.Env
	if cfg.ListenPID {
		env = setEnv(env, "LISTEN_PID", "")
		pidNames["LISTEN_PID"] = true
	}
	for _, name := range cfg.PIDEnv {
		env = setEnv(env, name, "")
		pidNames[name] = true
	}
	d.envv = make([]*byte, 0, len(env)+1)
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		if pidNames[name] {
			buf := make([]byte, len(name)+1+21) // NAME=, 20 digits at most, NUL
			copy(buf, name+"=")
			d.pidVars = append(d.pidVars, pidVar{buf: buf, at: len(name) + 1})
			d.envv = append(d.envv, &buf[0])
			continue
		}
		b, err := syscall.BytePtrFromString(kv)
		if err != nil {
			return invalid("environment entry %q: %w", kv, err)
		}
		d.envv = append(d.envv, b)
	}
	d.envv = append(d.envv, nil)

	d.argv = make([]*byte, 0, len(cfg.Args)+1)
	for _, a := range cfg.Args {
		b, err := syscall.BytePtrFromString(a)
		if err != nil {
			return invalid("argument %q: %w", a, err)
		}
		d.argv = append(d.argv, b)
	}
	d.argv = append(d.argv, nil)

	file := cfg.Args[0]
	candidates := []string{file}
	if !strings.Contains(file, "/") {
		d.search = true
		path, ok := lookupEnv(env, "PATH")
		if !ok {
			path = defaultPath
		}
		candidates = candidates[:0]
		for _, dir := range filepath.SplitList(path) {
			if dir == "" {
				dir = "."
			}
			candidates = append(candidates, dir+"/"+file)
		}
	}
	for _, c := range candidates {
		b, err := syscall.BytePtrFromString(c)
		if err != nil {
			return invalid("program path %q: %w", c, err)
		}
		d.paths = append(d.paths, b)
	}
	return nil
}
