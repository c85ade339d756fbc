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
// several goroutines at once.
func Start(spec Spec) (*Process, error) {
	p, err := prepare(spec)
	if err != nil {
		return nil, fmt.Errorf("launch: %w", err)
	}
	return p.start()
}

// start runs the plan: create the trampoline (inside the v2 cgroup when the
// kernel allows), move it into the remaining cgroups, then send it the config
// and wait for its verdict.
func (p *plan) start() (*Process, error) {
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("launch %s: create config socket: %w", p.name, os.NewSyscallError("socketpair", err))
	}
	parent, child := pair[0], pair[1]
	defer unix.Close(parent)
	pid, cloned, err := p.spawn(child)
	unix.Close(child)
	if err != nil {
		return nil, &StartError{Op: "start trampoline", Path: selfExe, Err: err}
	}
	if testHookStarted != nil {
		testHookStarted(pid)
	}
	for _, cg := range p.cgroups {
		if cg.v2 && cloned {
			continue
		}
		if err := joinCgroup(cg.path, pid); err != nil {
			killAndReap(pid)
			return nil, &StartError{Op: "join cgroup", Path: cg.path, Err: err}
		}
	}
	if err := p.converse(parent, pid); err != nil {
		return nil, err
	}
	proc, _ := os.FindProcess(pid) // never fails on Linux; holds a pidfd where there are pidfds
	return &Process{Pid: pid, ClonedIntoCgroup: cloned, proc: proc}, nil
}

// spawn creates the trampoline with the layout in place and the config
// socket above it. With a cgroup v2 directory it first tries clone3 with
// CLONE_INTO_CGROUP, so that even the trampoline never runs outside it; the
// kernel or a seccomp filter may refuse that (ENOSYS, EPERM, EINVAL, E2BIG,
// EBUSY...), and Go has no fallback, so any failure is retried once with a
// plain fork, and the cgroup is then joined through cgroup.procs.
func (p *plan) spawn(configFD int) (pid int, cloned bool, err error) {
	files := slices.Clone(p.files)
	files[len(files)-1] = uintptr(configFD)
	attr := &syscall.ProcAttr{
		Env:   append([]string{trampolineEnv + "=" + strconv.Itoa(len(files)-1)}, trampolineRuntimeEnv...),
		Files: files,
	}
	argv := []string{trampolineArg0}
	if dir := v2Dir(p.cgroups); dir != "" {
		cg, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err == nil {
			sys := p.sys
			sys.UseCgroupFD, sys.CgroupFD = true, cg
			attr.Sys = &sys
			pid, err = startProcess(selfExe, argv, attr)
			unix.Close(cg)
			if err == nil {
				return pid, true, nil
			}
		}
	}
	sys := p.sys
	attr.Sys = &sys
	pid, err = startProcess(selfExe, argv, attr)
	return pid, false, err
}

// forkExec is syscall.StartProcess without the handle Unix does not have.
func forkExec(argv0 string, argv []string, attr *syscall.ProcAttr) (int, error) {
	pid, _, err := syscall.StartProcess(argv0, argv, attr)
	return pid, err
}

// converse sends the config, then reads the trampoline's reports until EOF.
// On failure it has killed and reaped the trampoline.
func (p *plan) converse(sock, pid int) error {
	sendErr := writeAll(sock, p.config)
	peerGone := errors.Is(sendErr, unix.EPIPE) || errors.Is(sendErr, unix.ECONNRESET)
	if sendErr != nil && !peerGone {
		// The trampoline still waits for its config: stop it so the read ends.
		_ = unix.Kill(pid, unix.SIGKILL)
	}
	_ = unix.Shutdown(sock, unix.SHUT_WR)
	data, readErr := readAll(sock, maxReportSize)
	out, decodeErr := decodeOutcome(data)
	if sendErr == nil && readErr == nil && decodeErr == nil && out.execReached && out.failure == nil {
		return nil
	}
	status := killAndReap(pid)
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
