package launcher

import "errors"

var (
	// ErrInvalidSpec is returned, wrapped, when a Spec is malformed: no
	// program, a relative Cwd, a NUL byte in a string, an environment entry
	// without '=', a duplicate or negative target, a descriptor that is not
	// open, an unknown or duplicate rlimit, a directory that is not a cgroup,
	// two directories of one hierarchy. Nothing was started.
	ErrInvalidSpec = errors.New("invalid spec")

	// ErrUnsupported is returned, wrapped, when a Spec asks for something
	// launcher cannot honour (a runtime-spec field such as Capabilities or
	// Terminal), or when Start is called off Linux. Nothing was started.
	ErrUnsupported = errors.New("not supported by launcher")

	// ErrTrampolineExited is returned, wrapped, when the trampoline, or the
	// direct path's child, ended before it reached execve without saying
	// why: it was killed by a signal or crashed. The error names its exit
	// status; the child has been reaped.
	ErrTrampolineExited = errors.New("trampoline exited before exec")

	// ErrUnsafeTrampoline is returned, wrapped, by SetTrampoline when the
	// trampoline binary is not a regular executable file owned by root or the
	// caller's effective uid and writable by nobody else.
	ErrUnsafeTrampoline = errors.New("unsafe trampoline binary")
)

// StartError says which step of starting the process failed, and why. When
// Start returns one, nothing is left running: the child it had made has been
// killed and reaped.
type StartError struct {
	// Op is the failed step: "start trampoline", "join cgroup", "read config",
	// "close descriptors", "setrlimit", "set oom_score_adj", "setgroups",
	// "setgid", "setuid", "chdir", "set no_new_privs", "set signal mask" or
	// "exec"; with the direct path also "setsid", "setpgid", "place
	// descriptors" (Path: the target) and "set controlling terminal", which
	// the trampoline reports as "start trampoline".
	Op string

	// Path is what the step worked on: the cgroup directory, the rlimit's
	// name, the working directory, the program as given in Args[0]. It may be
	// empty.
	Path string

	// Err is the cause: a syscall.Errno whenever the kernel refused, so that
	// errors.Is(err, syscall.ENOENT) and the like work.
	Err error
}

func (e *StartError) Error() string {
	if e.Path == "" {
		return "launch: " + e.Op + ": " + e.Err.Error()
	}
	return "launch: " + e.Op + " " + e.Path + ": " + e.Err.Error()
}

// Unwrap returns the cause.
func (e *StartError) Unwrap() error { return e.Err }
