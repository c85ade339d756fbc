//go:build linux

package launcher

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

const (
	// selfExe is how the parent re-executes its own binary as the trampoline:
	// it names the running binary even after it was replaced on disk, and
	// unlike argv[0] it does not depend on how the program was started.
	selfExe = "/proc/self/exe"

	// trampolineArg0 and trampolineEnv are the sentinel the trampoline is
	// started with: its whole argv, and the first variable of its environment,
	// which names its config socket.
	trampolineArg0 = "migrate-trampoline"
	trampolineEnv  = "_MIGRATE_LAUNCHER_CONFIG_FD"

	// maxReportSize bounds what the parent reads from the trampoline.
	maxReportSize = 64 << 10
)

// trampolineRuntimeEnv tunes the trampoline's Go runtime for a life of
// milliseconds inside the app's cgroups: one P means fewer threads counted
// against a pids limit, and there is no garbage worth collecting.
var trampolineRuntimeEnv = []string{"GOMAXPROCS=1", "GOGC=off"}

// Seams for tests.
var (
	startProcess    = forkExec    // creates the trampoline
	testHookStarted func(pid int) // runs once the trampoline exists, before it is placed
)

// Start starts the process spec describes and returns once the app's execve
// has succeeded, or with the reason it failed: an error wrapping
// ErrInvalidSpec or ErrUnsupported when spec is refused before anything
// starts, a *StartError naming the step that failed (errors.Is works with
// its errno: ENOENT, EACCES, ENOSPC...), or one wrapping ErrTrampolineExited.
// When Start fails nothing is left running, and no descriptor it opened
// remains open.
//
// Start blocks until the trampoline has reported; it is safe to call from
// several goroutines at once, and launches run concurrently.
func Start(spec Spec) (*Process, error) {
	p, err := prepare(spec)
	if err != nil {
		return nil, fmt.Errorf("launch: %w", err)
	}
	if p.canDirect() {
		proc, err := p.startDirect()
		if !errors.Is(err, errDirectRefused) {
			return proc, err
		}
	}
	proc, exe, err := p.start()
	var se *StartError
	if exe != nil && errors.As(err, &se) && (se.Op == opProtocol || se.Op == "read config") {
		// A dedicated trampoline of another version (one that cannot even
		// read this version's config says so only as a failure to read a
		// config the parent built and checked): nothing of the app ran.
		// Use the running binary from now on, and start again.
		dropTrampoline(exe, fmt.Errorf("trampoline %s: %w", exe.path, se))
		proc, _, err = p.start()
	}
	return proc, err
}

// start runs the plan: create the trampoline (inside the v2 cgroup when the
// kernel allows), move it into the remaining cgroups, then send it the config
// and wait for its verdict. It returns the dedicated trampoline it ran, nil
// for the running binary.
func (p *plan) start() (*Process, *trampolineExe, error) {
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("launch %s: create config socket: %w", p.name, os.NewSyscallError("socketpair", err))
	}
	parent, child := pair[0], pair[1]
	defer unix.Close(parent)
	exe := acquireTrampoline()
	c, err := p.spawn(child, exe)
	tramp.RUnlock()
	unix.Close(child)
	if err != nil {
		path := selfExe
		if exe != nil {
			path = exe.path
		}
		return nil, exe, &StartError{Op: "start trampoline", Path: path, Err: err}
	}
	defer c.close()
	if testHookStarted != nil {
		testHookStarted(c.pid)
	}
	if dir := v2Dir(p.cgroups); dir != "" && !c.cloned {
		if err := joinCgroup(dir, c.pid); err != nil {
			c.killAndReap()
			return nil, exe, &StartError{Op: "join cgroup", Path: dir, Err: err}
		}
	}
	if err := p.converse(parent, c); err != nil {
		return nil, exe, err
	}
	proc, _ := os.FindProcess(c.pid) // never fails on Linux; holds a pidfd where there are pidfds
	return &Process{Pid: c.pid, ClonedIntoCgroup: c.cloned, proc: proc}, exe, nil
}

// child is a trampoline Start created and has not handed over yet.
type child struct {
	pid    int
	pidfd  int // from clone, -1 where the kernel has none: signals reach this process only
	cloned bool
}

func (c *child) close() {
	if c.pidfd >= 0 {
		unix.Close(c.pidfd)
	}
}

// spawn creates the trampoline with the layout in place, the config socket
// above it and, for a dedicated trampoline exe, the binary's descriptor
// above that, which the child executes. With a cgroup v2 directory it first
// tries clone3 with CLONE_INTO_CGROUP, so that even the trampoline never
// runs outside it; the kernel or a seccomp filter may refuse that (ENOSYS,
// EPERM, EINVAL, E2BIG, EBUSY...), and Go has no fallback, so any failure is
// retried once with a plain fork, and the cgroup is then joined through
// cgroup.procs.
func (p *plan) spawn(configFD int, exe *trampolineExe) (*child, error) {
	files := slices.Clone(p.files)
	files[len(files)-1] = uintptr(configFD)
	path := selfExe
	if exe != nil {
		files = append(files, uintptr(exe.fd))
		path = execPath(len(files) - 1)
	}
	attr := &syscall.ProcAttr{
		Env:   append([]string{trampolineEnv + "=" + strconv.Itoa(len(p.files)-1)}, trampolineRuntimeEnv...),
		Files: files,
	}
	argv := []string{trampolineArg0}
	c := &child{pidfd: -1}
	if dir := v2Dir(p.cgroups); dir != "" {
		cg, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err == nil {
			sys := p.sys
			sys.UseCgroupFD, sys.CgroupFD, sys.PidFD = true, cg, &c.pidfd
			attr.Sys = &sys
			c.pid, err = startProcess(path, argv, attr)
			unix.Close(cg)
			if err == nil {
				c.cloned = true
				return c, nil
			}
		}
	}
	sys := p.sys
	sys.PidFD = &c.pidfd
	attr.Sys = &sys
	var err error
	if c.pid, err = startProcess(path, argv, attr); err != nil {
		return nil, err
	}
	return c, nil
}

// forkExec is syscall.StartProcess without the handle Unix does not have.
func forkExec(argv0 string, argv []string, attr *syscall.ProcAttr) (int, error) {
	pid, _, err := syscall.StartProcess(argv0, argv, attr)
	return pid, err
}

// converse sends the config, then reads the trampoline's reports until EOF.
// On failure it has killed and reaped the trampoline.
func (p *plan) converse(sock int, c *child) error {
	sendErr := writeAll(sock, p.config)
	peerGone := errors.Is(sendErr, unix.EPIPE) || errors.Is(sendErr, unix.ECONNRESET)
	if sendErr != nil && !peerGone {
		// The trampoline still waits for its config: stop it so the read ends.
		c.kill()
	}
	_ = unix.Shutdown(sock, unix.SHUT_WR)
	data, readErr := readAll(sock, maxReportSize)
	out, decodeErr := decodeOutcome(data)
	if sendErr == nil && readErr == nil && decodeErr == nil && out.execReached && out.failure == nil {
		return nil
	}
	status := c.killAndReap()
	switch {
	case out.failure != nil:
		return out.failure
	case readErr != nil:
		return fmt.Errorf("launch %s: read trampoline report: %w", p.name, readErr)
	case decodeErr != nil:
		return fmt.Errorf("launch %s: %w", p.name, decodeErr)
	case sendErr != nil && !peerGone:
		return fmt.Errorf("launch %s: send config to trampoline: %w", p.name, sendErr)
	}
	return fmt.Errorf("launch %s: %w (%s)", p.name, ErrTrampolineExited, status)
}
