//go:build linux

package migrate

import (
	"context"
	"fmt"
	"net"
	"os"
	"strconv"
	"syscall"

	"github.com/migrate-run/migrate/proto"
	"golang.org/x/sys/unix"
)

// The environment of a process started to resume a complete continuation.
const (
	EnvCont   = "MIGRATE_CONT"    // fd number of the session's connection
	EnvPID    = "MIGRATE_PID"     // pid of the process that suspended
	EnvContID = "MIGRATE_CONT_ID" // the continuation's id, decimal
)

// A Resumption is this process's view of the complete continuation it was
// started to resume. Retrieve what the session needs, Register the
// connection, then Confirm: until the supervisor acknowledges Confirm it
// keeps the continuation, and resumes it again if this process dies.
type Resumption struct {
	// Conn is the session's connection, inherited at descriptor FD; the
	// app owns it. (FD itself is closed: Conn works on a close-on-exec
	// duplicate.)
	Conn net.Conn
	FD   int
	// Cont is the continuation's id (MIGRATE_CONT_ID).
	Cont uint64
	// OldPID is the process that suspended the session (MIGRATE_PID).
	OldPID int

	c *Client
}

// IsContinuation reports whether this process was started to resume a
// continuation (the paper's is_migrate_continuation): MIGRATE_CONT is set.
func IsContinuation() bool {
	_, ok := os.LookupEnv(EnvCont)
	return ok
}

// Resumed checks whether this process resumes a complete continuation and,
// if so, takes its connection over (the paper's
// get_session(MIGRATE_CONT)). ok is false, with a nil error, when
// MIGRATE_CONT is not set. The environment is checked strictly: all three
// variables, plain decimal, MIGRATE_CONT naming an open socket; anything
// else is ErrBadEnv and leaves every descriptor and variable alone. On
// success Resumed unsets MIGRATE_CONT, MIGRATE_PID and MIGRATE_CONT_ID:
// the descriptor they named is taken, so neither a second call nor a child
// process may take it again (IsContinuation reports false afterwards).
func (c *Client) Resumed(ctx context.Context) (r *Resumption, ok bool, err error) {
	env, ok, err := parseEnv(os.LookupEnv)
	if !ok || err != nil {
		return nil, ok, err
	}
	conn, err := adoptConn(env.fd)
	if err != nil {
		return nil, true, err
	}
	for _, name := range []string{EnvCont, EnvPID, EnvContID} {
		os.Unsetenv(name)
	}
	return &Resumption{Conn: conn, FD: env.fd, Cont: env.cont, OldPID: env.pid, c: c}, true, nil
}

// resumeEnv is what the MIGRATE_ variables say.
type resumeEnv struct {
	fd   int
	pid  int
	cont uint64
}

func parseEnv(lookup func(string) (string, bool)) (resumeEnv, bool, error) {
	fdText, ok := lookup(EnvCont)
	if !ok {
		return resumeEnv{}, false, nil
	}
	var env resumeEnv
	fd, err := envNumber(EnvCont, fdText, true, 1<<31-1)
	if err != nil {
		return env, true, err
	}
	pidText, set := lookup(EnvPID)
	pid, err := envNumber(EnvPID, pidText, set, 1<<31-1)
	if err != nil {
		return env, true, err
	}
	contText, set := lookup(EnvContID)
	cont, err := envNumber(EnvContID, contText, set, 1<<64-1)
	if err != nil {
		return env, true, err
	}
	if pid == 0 || cont == 0 {
		return env, true, fmt.Errorf("resume: %w: %s=%q %s=%q must be non-zero", ErrBadEnv, EnvPID, pidText, EnvContID, contText)
	}
	return resumeEnv{fd: int(fd), pid: int(pid), cont: cont}, true, nil
}

// envNumber parses a plain decimal: digits only, no sign, no leading zero,
// at most max.
func envNumber(name, text string, set bool, max uint64) (uint64, error) {
	if !set {
		return 0, fmt.Errorf("resume: %w: %s is not set", ErrBadEnv, name)
	}
	bad := text == "" || len(text) > 20 || len(text) > 1 && text[0] == '0'
	for i := 0; i < len(text) && !bad; i++ {
		bad = text[i] < '0' || text[i] > '9'
	}
	n, err := strconv.ParseUint(text, 10, 64)
	if bad || err != nil || n > max {
		return 0, fmt.Errorf("resume: %w: %s=%q is not a decimal number up to %d", ErrBadEnv, name, truncate(text, 40), max)
	}
	return n, nil
}

// adoptConn turns the inherited socket fd into a net.Conn and closes fd.
func adoptConn(fd int) (net.Conn, error) {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, fmt.Errorf("resume: %w: %s=%d: %w", ErrBadEnv, EnvCont, fd, os.NewSyscallError("fstat", err))
	}
	if st.Mode&unix.S_IFMT != unix.S_IFSOCK {
		return nil, fmt.Errorf("resume: %w: %s=%d is not a socket (mode %#o)", ErrBadEnv, EnvCont, fd, st.Mode)
	}
	f := os.NewFile(uintptr(fd), "migrate-cont")
	conn, err := net.FileConn(f)
	if err != nil {
		return nil, fmt.Errorf("resume: adopt connection %d: %w", fd, err)
	}
	f.Close()
	return conn, nil
}

// Retrieve returns key's value from the continuation's store.
func (r *Resumption) Retrieve(ctx context.Context, key string) ([]byte, error) {
	return r.c.retrieve(ctx, proto.Scope{Cont: r.Cont}, key)
}

// StoreSize returns the size of key's value in the continuation's store.
func (r *Resumption) StoreSize(ctx context.Context, key string) (int64, error) {
	return r.c.storeSize(ctx, proto.Scope{Cont: r.Cont}, key)
}

// Register registers Conn as the continuation's session again (GetSession
// with the continuation's id): the returned Session is the session, live in
// this process.
func (r *Resumption) Register(ctx context.Context, opts ...SessionOption) (*Session, error) {
	cfg := sessionConfig{}
	for _, o := range opts {
		o(&cfg)
	}
	cfg.cont = r.Cont
	sc, ok := r.Conn.(syscall.Conn)
	if !ok {
		return nil, fmt.Errorf("register resumed session: %w: %T has no descriptor", ErrInvalid, r.Conn)
	}
	return r.c.getSession(ctx, sc, &cfg)
}

// Confirm tells the supervisor this process has taken the continuation
// over (Resumed); once it acknowledges, the supervisor drops the
// continuation and the descriptors it held.
func (r *Resumption) Confirm(ctx context.Context) error {
	_, err := r.c.callAck(ctx, "confirm resume", &proto.Resumed{Cont: r.Cont}, nil)
	return err
}
