package launcher

import "os"

// Process is a process Start has started. From then on the caller owns it,
// and in particular its exit status: launcher never waits for it, so the
// supervisor's own reaper (a wait4(-1) loop, say) sees it exit like any other
// child. Wait is a convenience for callers without one.
type Process struct {
	// Pid is the process id. It stays valid until the process is reaped.
	Pid int

	// ClonedIntoCgroup reports that the process was created inside the cgroup
	// v2 directory of Spec.Cgroups by clone3(CLONE_INTO_CGROUP). It is false
	// when no v2 directory was given or when the kernel refused and the
	// process was moved there through cgroup.procs before it went on.
	ClonedIntoCgroup bool

	proc   *os.Process // holds a pidfd where the kernel has them
	direct bool        // started by the direct path, without a trampoline
}

// Wait waits for the process to exit, reaps it and releases the Process. Do
// not call it if something else reaps the supervisor's children: whichever
// reaps first gets the status, and the other gets ECHILD.
func (p *Process) Wait() (*os.ProcessState, error) {
	return p.proc.Wait()
}

// Signal sends sig to the process. Through a pidfd, it cannot reach another
// process that reused the pid after the process was reaped; it returns
// os.ErrProcessDone instead.
func (p *Process) Signal(sig os.Signal) error {
	return p.proc.Signal(sig)
}

// Release frees the pidfd held for the process without waiting for it. Call
// it when the process is reaped elsewhere; it is not needed after Wait.
func (p *Process) Release() error {
	return p.proc.Release()
}
