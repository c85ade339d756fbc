//go:build linux

package migrate

import (
	"fmt"
	"os"
	"strings"

	"github.com/migrate-run/migrate/proto"
	"golang.org/x/sys/unix"
)

// Exec is how the supervisor starts the fresh process of a Complete
// continuation: the fields of a runtime-spec Process that apply, plus the
// signal mask. Every unset field takes this process's own value at the
// time Return (or ReturnCont) builds the continuation.
type Exec struct {
	// Args is argv. Default: this program (os.Executable, so a relative
	// argv[0] or `go run` cannot break it) followed by os.Args[1:].
	Args []string
	// Env is envp, "KEY=value" each. Default: os.Environ() without the
	// variables that describe this process's own start (MIGRATE_CONT,
	// MIGRATE_PID, MIGRATE_CONT_ID, LISTEN_FDS, LISTEN_PID,
	// LISTEN_FDNAMES); the supervisor adds the MIGRATE_ variables of the
	// resume.
	Env []string
	// Dir is the absolute working directory. Default: os.Getwd().
	Dir string
	// Creds are the credentials. Default: the effective uid and gid and
	// the supplementary groups.
	Creds *Creds
	// SigMask is the blocked-signal mask (bit n-1 is signal n). Default:
	// the mask of the calling thread.
	SigMask *uint64
	// NoNewPrivileges sets PR_SET_NO_NEW_PRIVS in the fresh process.
	NoNewPrivileges bool
	// Rlimits are resource limits to set; none by default (the fresh
	// process inherits the supervisor's).
	Rlimits []Rlimit
}

// Creds are the user, group and supplementary groups to run as.
type Creds struct {
	UID, GID uint32
	Groups   []uint32
}

// Rlimit is one resource limit: Type such as "RLIMIT_NOFILE", Soft ≤ Hard,
// 0xffffffffffffffff for unlimited.
type Rlimit = proto.Rlimit

// resolve fills the defaults into a copy of e (nil is all defaults).
func (e *Exec) resolve() (*proto.Exec, error) {
	var in Exec
	if e != nil {
		in = *e
	}
	out := &proto.Exec{Args: in.Args, Env: in.Env, Cwd: in.Dir,
		NoNewPrivileges: in.NoNewPrivileges, Rlimits: in.Rlimits}
	var err error
	if out.Args == nil {
		if out.Args, err = ownArgs(); err != nil {
			return nil, err
		}
	}
	if out.Env == nil {
		out.Env = ownEnv()
	}
	if out.Cwd == "" {
		if out.Cwd, err = os.Getwd(); err != nil {
			return nil, fmt.Errorf("default working directory: %w", err)
		}
	}
	if err := resolveCreds(out, in.Creds); err != nil {
		return nil, err
	}
	if in.SigMask != nil {
		out.SigMask = *in.SigMask
	} else if out.SigMask, err = ownSigMask(); err != nil {
		return nil, err
	}
	return out, nil
}

func ownArgs() ([]string, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("default exec args: %w", err)
	}
	return append([]string{exe}, os.Args[1:]...), nil
}

// startVars describe how this process was started; a resumed process gets
// its own from the supervisor.
var startVars = []string{"MIGRATE_CONT=", "MIGRATE_PID=", "MIGRATE_CONT_ID=",
	"LISTEN_FDS=", "LISTEN_PID=", "LISTEN_FDNAMES="}

func ownEnv() []string {
	env := []string{}
next:
	for _, kv := range os.Environ() {
		for _, p := range startVars {
			if strings.HasPrefix(kv, p) {
				continue next
			}
		}
		env = append(env, kv)
	}
	return env
}

func resolveCreds(out *proto.Exec, c *Creds) error {
	if c != nil {
		out.UID, out.GID, out.Groups = c.UID, c.GID, c.Groups
		return nil
	}
	out.UID, out.GID = uint32(os.Geteuid()), uint32(os.Getegid())
	groups, err := os.Getgroups()
	if err != nil {
		return fmt.Errorf("default groups: %w", err)
	}
	for _, g := range groups {
		out.Groups = append(out.Groups, uint32(g))
	}
	return nil
}

// ownSigMask reads the calling thread's blocked-signal mask. Go blocks no
// signal on its threads, so this is what the app blocked itself.
func ownSigMask() (uint64, error) {
	var set unix.Sigset_t
	if err := unix.PthreadSigmask(unix.SIG_BLOCK, nil, &set); err != nil {
		return 0, fmt.Errorf("default signal mask: %w", os.NewSyscallError("rt_sigprocmask", err))
	}
	return uint64(set.Val[0]), nil
}
