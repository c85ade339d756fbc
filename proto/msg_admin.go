package proto

import (
	"fmt"
	"strings"
)

// The admin operations an AdminRequest names (its Op). Each is answered with
// an AdminReply whose JSON document docs/protocol.md describes, or Error.
const (
	AdminApps     = "apps"     // list apps
	AdminSessions = "sessions" // list sessions (App filters)
	AdminConts    = "conts"    // list continuations (App, State filter)
	AdminShow     = "show"     // one continuation (Cont; Values adds store values)
	AdminSuspend  = "suspend"  // suspend a session (Session), reason operator
	AdminResume   = "resume"   // resume a continuation (Cont)
	AdminDrop     = "drop"     // drop a suspended continuation (Cont)
	AdminGC       = "gc"       // expire what is due now
	AdminStats    = "stats"    // counts and descriptor accounting
	AdminStopApp  = "stop-app" // stop an app (App)
	AdminWaitApp  = "wait-app" // answer once an app is done (App)
	AdminLogs     = "logs"     // an app's captured output lines (App, Since)
	AdminServices = "services" // list services: every app, and configured services not running
	AdminStatus   = "status"   // one service in detail, with its cgroup's usage (App)
	AdminStart    = "start"    // start a configured service (App)
	AdminStop     = "stop"     // stop a service; it stays configured (App)
	AdminRestart  = "restart"  // stop then start a service (App)
	AdminReload   = "reload"   // read the service directory again, as SIGHUP does
	AdminUpgrade  = "upgrade"  // replace an app's program under its live sessions (App, Exec, Version)
)

// AdminOps returns the operations of AdminRequest in this version.
func AdminOps() []string {
	return []string{AdminApps, AdminSessions, AdminConts, AdminShow, AdminSuspend,
		AdminResume, AdminDrop, AdminGC, AdminStats, AdminStopApp, AdminWaitApp, AdminLogs,
		AdminServices, AdminStatus, AdminStart, AdminStop, AdminRestart, AdminReload, AdminUpgrade}
}

// AdminRequest is an operator's request (migratectl, migrate-run, tests).
// The supervisor accepts it only from an admin peer: one that belongs to no
// app and runs as the supervisor's uid or as root. It is answered with
// AdminReply or Error. Which of the optional fields an operation reads is
// listed with AdminOps' constants; the others are ignored.
type AdminRequest struct {
	// Op is one of the Admin* operations.
	Op string
	// App names an app (filter or target).
	App string
	// Session names a session.
	Session uint64
	// Cont names a continuation.
	Cont uint64
	// State filters continuations by state ("suspended", ...).
	State string
	// Values asks show to include the store's values, not only its keys.
	Values bool
	// Since is the first output line logs returns, by sequence number;
	// 0 and 1 mean the oldest kept.
	Since uint64
	// Exec is upgrade's new program, an absolute path.
	Exec string
	// Version is the app version whose compat vector upgrade checks the
	// continuations against ("": the one the new program registers).
	Version string
}

// Type returns TypeAdminRequest.
func (*AdminRequest) Type() Type { return TypeAdminRequest }
func (*AdminRequest) fds() int   { return 0 }

func (m *AdminRequest) walk(c *codec) {
	c.str(1, "op", &m.Op, textName)
	c.str(2, "app", &m.App, textName)
	num(c, 3, "session", &m.Session)
	num(c, 4, "cont", &m.Cont)
	c.str(5, "state", &m.State, textName)
	c.flag(6, "values", &m.Values)
	num(c, 7, "since", &m.Since)
	c.str(8, "exec", &m.Exec, textOS)
	c.str(9, "version", &m.Version, textName)
}

func (m *AdminRequest) check() error {
	for _, op := range AdminOps() {
		if m.Op == op {
			return nil
		}
	}
	return fmt.Errorf("%w: unknown admin op %q", ErrInvalid, m.Op)
}

// AdminReply answers AdminRequest and AdminStartApp: a JSON document whose
// shape depends on the operation (see docs/protocol.md).
type AdminReply struct {
	JSON []byte
}

// Type returns TypeAdminReply.
func (*AdminReply) Type() Type      { return TypeAdminReply }
func (*AdminReply) fds() int        { return 0 }
func (*AdminReply) check() error    { return nil }
func (m *AdminReply) walk(c *codec) { c.bytes(1, "json", &m.JSON) }

// AdminStartApp asks the supervisor to start an app (migrate-run talking to a
// running migrated). It carries 3 descriptors, the app's standard input,
// output and error in that order; the supervisor owns its copies once they
// arrive and gives them to the app at 0, 1 and 2. The app runs with the
// peer's uid and gid (SO_PEERCRED). Answered with AdminReply (the app) or
// Error.
type AdminStartApp struct {
	// Name is the app's name; unique among the supervisor's apps.
	Name string
	// Args is argv; Args[0] is searched in PATH like execvp.
	Args []string
	// Env is the environment, "KEY=value" each.
	Env []string
	// Cwd is the absolute working directory.
	Cwd string
	// Listen are addresses the supervisor opens, holds and passes as
	// LISTEN_FDS from fd 3 up: "tcp://HOST:PORT" or "unix:PATH".
	Listen []string
	// ExpirySec is the app's default continuation lifetime in seconds; 0
	// takes the supervisor's.
	ExpirySec uint32
	// Options are the app's service settings, a JSON document
	// (docs/protocol.md, "Start options"): sockets with names and accept
	// mode, restart policy, readiness, watchdog, stop signal and timeouts,
	// fd store. Empty: none.
	Options []byte
}

// Type returns TypeAdminStartApp.
func (*AdminStartApp) Type() Type { return TypeAdminStartApp }
func (*AdminStartApp) fds() int   { return 3 }

func (m *AdminStartApp) walk(c *codec) {
	c.str(1, "name", &m.Name, textName)
	c.strs(2, "args", &m.Args, textOS, MaxItems)
	c.strs(3, "env", &m.Env, textOS, MaxItems)
	c.str(4, "cwd", &m.Cwd, textOS)
	c.strs(5, "listen", &m.Listen, textName, MaxFDs)
	num(c, 6, "expiry_sec", &m.ExpirySec)
	c.bytes(7, "options", &m.Options)
}

func (m *AdminStartApp) check() error {
	switch {
	case m.Name == "" || strings.ContainsAny(m.Name, "/\x00") || m.Name == "." || m.Name == "..":
		return fmt.Errorf("%w: app name %q", ErrInvalid, m.Name)
	case len(m.Args) == 0 || m.Args[0] == "":
		return fmt.Errorf("%w: start-app without a program", ErrInvalid)
	case !strings.HasPrefix(m.Cwd, "/"):
		return fmt.Errorf("%w: start-app cwd %q is not absolute", ErrInvalid, m.Cwd)
	}
	for i, kv := range m.Env {
		if k, _, ok := strings.Cut(kv, "="); !ok || k == "" {
			return fmt.Errorf("%w: start-app env[%d] %q is not KEY=value", ErrInvalid, i, kv)
		}
	}
	for i, a := range m.Listen {
		if !strings.HasPrefix(a, "tcp://") && !strings.HasPrefix(a, "udp://") && !strings.HasPrefix(a, "unix:") &&
			!strings.HasPrefix(a, "unixpacket:") {
			return fmt.Errorf("%w: start-app listen[%d] %q is not tcp://HOST:PORT, udp://HOST:PORT, unix:PATH or unixpacket:PATH", ErrInvalid, i, a)
		}
	}
	return nil
}
