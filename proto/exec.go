package proto

import (
	"fmt"
	"strings"
)

// Exec is the process part of a complete continuation: how the supervisor
// starts the fresh process. It carries the fields of a runtime-spec
// specs.Process that apply (args, env, cwd, user, rlimits,
// noNewPrivileges) plus the signal mask; proto does not import runtime-spec,
// the supervisor converts. Strings are byte strings without NUL, as execve
// takes them, not necessarily UTF-8.
type Exec struct {
	// Args is argv; Args[0] is the program to execute, resolved by the
	// supervisor as execve would (a path, not searched in PATH). Not empty.
	Args []string
	// Env is envp, "KEY=value" each. The supervisor adds MIGRATE_CONT,
	// MIGRATE_PID, MIGRATE_CONT_ID and its own variables.
	Env []string
	// Cwd is the absolute working directory.
	Cwd string
	// UID and GID are the credentials to run with, and Groups the
	// supplementary groups. UID and GID are required (0 is root); the
	// supervisor refuses credentials the app could not have had.
	UID    uint32
	GID    uint32
	Groups []uint32
	// SigMask is the blocked signal mask to restore before execve: bit n-1
	// is signal n, as in the kernel's sigset_t.
	SigMask uint64
	// NoNewPrivileges sets PR_SET_NO_NEW_PRIVS before execve.
	NoNewPrivileges bool
	// Rlimits are resource limits to set before execve.
	Rlimits []Rlimit
}

func (e *Exec) walk(c *codec) {
	c.strs(1, "args", &e.Args, textOS, MaxItems)
	c.strs(2, "env", &e.Env, textOS, MaxItems)
	c.str(3, "cwd", &e.Cwd, textOS)
	required(c, 4, "uid", &e.UID)
	required(c, 5, "gid", &e.GID)
	nums(c, 6, "groups", &e.Groups, MaxItems)
	num(c, 7, "sigmask", &e.SigMask)
	c.flag(8, "no_new_privileges", &e.NoNewPrivileges)
	structs(c, 9, "rlimits", &e.Rlimits, MaxItems)
}

func (e *Exec) check() error {
	switch {
	case len(e.Args) == 0 || e.Args[0] == "":
		return fmt.Errorf("%w: exec without a program", ErrInvalid)
	case !strings.HasPrefix(e.Cwd, "/"):
		return fmt.Errorf("%w: exec cwd %q is not absolute", ErrInvalid, e.Cwd)
	}
	for i, kv := range e.Env {
		if k, _, ok := strings.Cut(kv, "="); !ok || k == "" {
			return fmt.Errorf("%w: exec env[%d] %q is not KEY=value", ErrInvalid, i, kv)
		}
	}
	for i, r := range e.Rlimits {
		if err := r.check(); err != nil {
			return fmt.Errorf("exec rlimits[%d]: %w", i, err)
		}
	}
	if i, j, dup := firstDup(len(e.Rlimits), func(i int) string { return e.Rlimits[i].Type }); dup {
		return fmt.Errorf("%w: exec rlimits[%d] and [%d] both set %s", ErrInvalid, i, j, e.Rlimits[i].Type)
	}
	return nil
}

// Rlimit is one resource limit, as runtime-spec's POSIXRlimit.
type Rlimit struct {
	// Type is the limit's name, such as "RLIMIT_NOFILE".
	Type string
	Soft uint64
	Hard uint64
}

func (r *Rlimit) walk(c *codec) {
	c.str(1, "type", &r.Type, textName)
	num(c, 2, "soft", &r.Soft)
	num(c, 3, "hard", &r.Hard)
}

func (r Rlimit) check() error {
	switch {
	case !strings.HasPrefix(r.Type, "RLIMIT_"):
		return fmt.Errorf("%w: rlimit type %q", ErrInvalid, r.Type)
	case r.Soft > r.Hard:
		return fmt.Errorf("%w: %s soft limit %d > hard %d", ErrInvalid, r.Type, r.Soft, r.Hard)
	}
	return nil
}
