package launcher

import (
	"fmt"
	"os"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// FD places one of the caller's descriptors in the new process.
type FD struct {
	// Target is the descriptor number the new process finds it at: 0 is its
	// standard input, 1 its standard output, 3 the first one past stdio.
	Target int

	// FD is the caller's descriptor. The caller owns it before, during and
	// after Start: Start neither closes it nor changes its flags (not even
	// O_NONBLOCK, see Caveats in the package documentation). It must stay open
	// until Start returns. The same FD may appear under several targets.
	FD int
}

// Spec describes a process to start, completely: Start adds nothing that is
// not written here, and refuses what it cannot honour.
type Spec struct {
	// Process is the exec description (runtime-spec): Args (Args[0] is the
	// program; without a '/' it is searched in the PATH of the final
	// environment, like execvp(3)), Env, Cwd (absolute), User (UID, GID,
	// AdditionalGids, Umask), Rlimits, NoNewPrivileges and OOMScoreAdj.
	//
	// User is applied as written: its zero value is root with no
	// supplementary groups. A credential the supervisor already holds is not
	// set again, so an unprivileged supervisor can start a process as itself.
	//
	// Fields launcher cannot honour (Terminal, ConsoleSize, CommandLine,
	// Capabilities, ApparmorProfile, SelinuxLabel, Scheduler, IOPriority,
	// ExecCPUAffinity, User.Username) make Start fail with ErrUnsupported.
	Process *specs.Process

	// Files is the exact descriptor layout of the new process: Files[i].FD
	// appears at number Files[i].Target, standard streams included. Every
	// other descriptor is closed, holes in the layout (say targets 0, 1, 2 and
	// 5, but not 3 and 4) included. Targets must be distinct; a source may
	// equal another entry's target, and targets may be placed in any order.
	Files []FD

	// ExtraEnv is appended to Process.Env; a variable set in both takes the
	// value from ExtraEnv. The supervisor puts MIGRATE_*, LISTEN_FDS and
	// LISTEN_FDNAMES here.
	ExtraEnv []string

	// ListenPID sets LISTEN_PID to the new process's own pid, as systemd does:
	// it equals getpid() in the app. It overrides any LISTEN_PID in the
	// environment.
	ListenPID bool

	// PIDEnv names more variables set, like LISTEN_PID, to the new
	// process's own pid (the supervisor's WATCHDOG_PID). Each is a plain
	// name: no '=' or NUL.
	PIDEnv []string

	// SigMask is the set of signals blocked in the new process. The zero value
	// blocks nothing. Whatever the supervisor ignores or catches, every signal
	// starts with its default disposition.
	SigMask SigSet

	// Cgroups are the directories of the target cgroup, one per mounted
	// hierarchy: with cgroup v1 one per hierarchy (for example
	// /sys/fs/cgroup/pids/migrate/app), with cgroup v2 the single directory in
	// the unified mount. The process is a member of all of them before the
	// app runs its first instruction. Two directories of one hierarchy are an
	// error.
	Cgroups []string

	// Setsid starts the process in a new session (setsid(2)).
	Setsid bool

	// Setpgid puts the process in process group Pgid, or in a new group of its
	// own when Pgid is 0. It cannot be combined with Setsid.
	Setpgid bool
	Pgid    int

	// Setctty makes the descriptor at target number Ctty the controlling
	// terminal of the new session. It requires Setsid, and Ctty must be one of
	// the targets in Files.
	Setctty bool
	Ctty    int
}

// CurrentUser returns the caller's own credentials as a specs.User: its uid,
// gid and supplementary groups, and no Umask (the new process inherits the
// caller's). It is what an unprivileged supervisor puts in Process.User to
// start processes as itself.
func CurrentUser() (specs.User, error) {
	groups, err := os.Getgroups()
	if err != nil {
		return specs.User{}, fmt.Errorf("read supplementary groups: %w", err)
	}
	u := specs.User{UID: uint32(os.Getuid()), GID: uint32(os.Getgid())}
	for _, g := range groups {
		u.AdditionalGids = append(u.AdditionalGids, uint32(g))
	}
	return u, nil
}
