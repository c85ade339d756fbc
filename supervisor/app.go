package supervisor

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/migrate-run/migrate/accounting"
	"github.com/migrate-run/migrate/launcher"
)

// AppSpec describes an app for StartApp.
type AppSpec struct {
	// Name is the app's name, unique in the supervisor: its cgroup's name
	// and MIGRATE_APP.
	Name string
	// Args, Env and Cwd are the main process's argv (Args[0] searched in
	// PATH), environment and absolute working directory.
	Args []string
	Env  []string
	Cwd  string
	// User runs the app; nil means the supervisor's own credentials.
	User *specs.User
	// Listen are the sockets the supervisor opens and holds for the app
	// across restarts of its main process: the main process gets them from
	// fd 3 up with LISTEN_FDS, LISTEN_PID and LISTEN_FDNAMES. Sockets with
	// Accept are accepted on by the supervisor instead, one process per
	// connection (then every socket must accept, and there is no main
	// process).
	Listen []ListenSpec
	// Stdio are the app's standard input, output and error, the caller's
	// descriptors: StartApp duplicates them and holds the duplicates for the
	// app's life, for its main process and for every process resumed for
	// it. -1 gives /dev/null.
	Stdio [3]int
	// Resources are the app cgroup's limits; nil sets none.
	Resources *specs.LinuxResources
	// Expiry is the app's default continuation lifetime (capped by
	// Config.MaxExpiry); 0 means Config.DefaultExpiry.
	Expiry time.Duration
	// Capture reads the app's standard output and error through pipes the
	// supervisor owns: every line goes to the supervisor's log and to a
	// ring of the app's last lines (Supervisor.Logs), and its bytes on to
	// Stdio[1] and Stdio[2] (unless -1). Without it the app writes to
	// Stdio directly.
	Capture bool
	// Restart restarts the main process when it exits; the zero value
	// never does.
	Restart RestartPolicy
	// StopSignal asks the app's processes to stop (0: SIGTERM);
	// StopTimeout later every process of its cgroup is killed (0:
	// Config.StopTimeout).
	StopSignal  unix.Signal
	StopTimeout time.Duration
	// Readiness is ReadyExec ("" too) or ReadyNotify: then the app is
	// starting until its main process sends READY=1, for at most
	// StartTimeout (0: DefaultStartTimeout).
	Readiness    string
	StartTimeout time.Duration
	// Watchdog is the interval within which the main process sends
	// WATCHDOG=1, passed as WATCHDOG_USEC; a miss aborts it (SIGABRT) and
	// counts as a failure. 0: none, unless the app asks with WATCHDOG_USEC=.
	Watchdog time.Duration
	// FDStoreMax caps the descriptors the app may keep with FDSTORE=1 (0:
	// none); FDStorePreserve keeps them when an operator stops the app.
	FDStoreMax      int
	FDStorePreserve bool
	// File is the service file the app was defined by ("" for none).
	File string
}

// accepts reports whether the app's sockets accept (inetd style).
func (spec *AppSpec) accepts() bool {
	return len(spec.Listen) > 0 && spec.Listen[0].Accept
}

// App is an app the supervisor runs. Its fields are guarded by the
// Supervisor's mutex.
type App struct {
	name  string
	spec  AppSpec
	user  specs.User
	group *accounting.Group // nil without cgroups
	// cgroupRel is the group's path as /proc/PID/cgroup shows it
	// ("/migrate/web"); "" without cgroups.
	cgroupRel string
	stdio     [3]int // held, the app's fds 0, 1, 2
	listen    []int  // held listening sockets, the main process's 3, 4, ...
	started   time.Time
	main      *proc
	exit      *ExitStatus // the main process's, once it exited
	stopped   bool        // StopApp ran
	run       runState    // the service side: state, restarts, timers (lifecycle.go)
	notify    *notifySocket
	fds       *fdStore // the fd store; nil unless spec.FDStoreMax > 0
	acceptors []*acceptor
	orphan    bool    // a placeholder: the app does not run (see adopt)
	attach    []*conn // connections that sent Attach, oldest first
	// attachWake, when set, is closed at the next Attach (upgrade.go).
	attachWake chan struct{}
	// compat is the version whose compat vector a process of the app
	// registered last, and when (upgrade.go reads the new version's).
	compat     string
	compatAt   time.Time
	compatWake chan struct{} // when set, closed at the next registration
	capture    *capture      // nil unless spec.Capture; set before the app starts
	done       chan struct{}
}

// ExitStatus is how a process ended: Code for a normal exit, Signal for a
// death by signal (Code is then 128+signal, as a shell reports it).
type ExitStatus struct {
	Code   int    `json:"code"`
	Signal string `json:"signal,omitempty"`
}

func exitStatusOf(ws unix.WaitStatus) ExitStatus {
	if ws.Signaled() {
		return ExitStatus{Code: 128 + int(ws.Signal()), Signal: unix.SignalName(ws.Signal())}
	}
	return ExitStatus{Code: ws.ExitStatus()}
}

// Done returns a channel closed once the app is done: its main process has
// exited, no process of the app remains, and none of its continuations is
// suspended or resuming. migrate-run exits then.
func (a *App) Done() <-chan struct{} { return a.done }

// inCgroup reports whether one of a process's cgroup paths (from
// /proc/PID/cgroup) lies in the app's cgroup or below it.
func (a *App) inCgroup(paths []string) bool {
	if a.cgroupRel == "" {
		return false
	}
	for _, p := range paths {
		if p == a.cgroupRel || strings.HasPrefix(p, a.cgroupRel+"/") {
			return true
		}
	}
	return false
}

// StartApp starts an app: its cgroup, its listening sockets, its main
// process. It fails with ErrAppExists for a name in use; on any failure
// nothing of the app remains.
func (s *Supervisor) StartApp(spec AppSpec) (*App, error) {
	if err := checkAppName(spec.Name); err != nil {
		return nil, err
	}
	a := &App{name: spec.Name, spec: spec, stdio: [3]int{-1, -1, -1}, done: make(chan struct{})}
	if err := s.reserveApp(a); err != nil {
		return nil, err
	}
	if err := s.setUpApp(a); err != nil {
		s.tearDownApp(a)
		s.mu.Lock()
		delete(s.apps, a.name)
		s.mu.Unlock()
		return nil, fmt.Errorf("start app %s: %w", spec.Name, err)
	}
	s.mu.Lock()
	pid := a.mainPIDLocked()
	s.mu.Unlock()
	s.log.Info().Str("app", a.name).Int("pid", pid).Strs("args", spec.Args).Msg("app started")
	return a, nil
}

func checkAppName(name string) error {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\x00") ||
		len(name) > 255 || name == accounting.DefaultLeaf {
		return fmt.Errorf("start app %q: bad name: %w", name, ErrBadConfig)
	}
	return nil
}

func (s *Supervisor) reserveApp(a *App) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closed:
		return fmt.Errorf("start app %s: %w", a.name, ErrClosed)
	case s.apps[a.name] != nil:
		return fmt.Errorf("start app %s: %w", a.name, ErrAppExists)
	}
	s.apps[a.name] = a
	return nil
}

// setUpApp holds the app's descriptors, makes its cgroup and starts its
// main process. tearDownApp undoes whatever it did.
func (s *Supervisor) setUpApp(a *App) error {
	for i, fd := range a.spec.Stdio {
		held, err := holdStdio(fd)
		if err != nil {
			return fmt.Errorf("hold stdio %d: %w", i, err)
		}
		a.stdio[i] = held
	}
	if a.spec.Capture {
		if err := s.startCapture(a); err != nil {
			return err
		}
	}
	for _, l := range a.spec.Listen {
		fd, err := openListener(l.Address)
		if err != nil {
			return err
		}
		a.listen = append(a.listen, fd)
	}
	if err := s.makeGroup(a); err != nil {
		return err
	}
	user, err := appUser(a.spec.User)
	if err != nil {
		return err
	}
	a.user = user
	if err := s.openNotify(a); err != nil {
		return err
	}
	if a.spec.FDStoreMax > 0 {
		a.fds = s.takeFDStore(a)
	}
	if a.spec.accepts() {
		s.mu.Lock()
		s.adopt(a)
		s.mu.Unlock()
		return s.startAcceptors(a)
	}
	return s.firstStart(a)
}

// firstStart starts the main process of a new app. Unlike a restart, a
// failed launch fails StartApp.
func (s *Supervisor) firstStart(a *App) error {
	s.mu.Lock()
	s.adopt(a)
	s.mu.Unlock()
	return s.startMain(a, true)
}

func holdStdio(fd int) (int, error) {
	if fd < 0 {
		return unix.Open(os.DevNull, unix.O_RDWR|unix.O_CLOEXEC, 0)
	}
	return dupCloexec(fd)
}

func appUser(u *specs.User) (specs.User, error) {
	if u != nil {
		return *u, nil
	}
	return launcher.CurrentUser()
}

// makeGroup creates the app's cgroup. The supervisor holds its cgroup
// parent exclusively (see New), so a group of the app's name that exists
// already was left by a dead run of a supervisor on this parent: its
// processes, if any, are watched by no one, and it is destroyed first.
func (s *Supervisor) makeGroup(a *App) error {
	if s.cg == nil {
		return nil
	}
	g, err := s.cg.Create(a.name, a.spec.Resources)
	if errors.Is(err, accounting.ErrExists) {
		if err = s.destroyLeftover(a.name); err == nil {
			g, err = s.cg.Create(a.name, a.spec.Resources)
		}
	}
	if err != nil {
		return fmt.Errorf("create cgroup: %w", err)
	}
	a.group = g
	a.cgroupRel = "/" + s.cgroupParent() + "/" + a.name
	return nil
}

// destroyLeftover kills the processes of a leftover group and removes it,
// logging the pids killed.
func (s *Supervisor) destroyLeftover(name string) error {
	old, err := s.cg.Load(name)
	if err != nil {
		return fmt.Errorf("load leftover cgroup: %w", err)
	}
	pids, err := old.Procs()
	if err != nil {
		return fmt.Errorf("list leftover cgroup: %w", err)
	}
	if err := old.Destroy(); err != nil {
		return fmt.Errorf("destroy leftover cgroup: %w", err)
	}
	s.log.Warn().Str("app", name).Ints("killed", pids).Str("parent", s.cgroupParent()).
		Msg("leftover cgroup of an earlier run destroyed")
	return nil
}

// storedFDs duplicates the fd store's descriptors for a launch (the
// store's poller may close its own at any time); the caller closes them.
func (a *App) storedFDs() []fdEntry {
	if a.fds == nil {
		return nil
	}
	dups, err := a.fds.dupAll()
	if err != nil {
		return nil
	}
	return dups
}

// mainSpec is the launch of the app's main process: stdio, listening
// sockets from fd 3, then the fd store's descriptors (stored, duplicates
// the caller owns), with their names in LISTEN_FDNAMES as systemd passes
// them; the app's environment. The caller holds s.mu.
func (s *Supervisor) mainSpec(a *App, stored []fdEntry) launcher.Spec {
	files := stdioFiles(a, nil)
	var names []string
	for i, fd := range a.listen {
		files = append(files, launcher.FD{Target: 3 + len(names), FD: fd})
		names = append(names, a.spec.Listen[i].Name)
	}
	for _, e := range stored {
		files = append(files, launcher.FD{Target: 3 + len(names), FD: e.FD})
		names = append(names, e.Name)
	}
	env := s.appEnv(a)
	pid := false
	if len(names) > 0 {
		env = append(env, "LISTEN_FDS="+strconv.Itoa(len(names)), "LISTEN_FDNAMES="+strings.Join(names, ":"))
		pid = true
	}
	var pidEnv []string
	if w := a.spec.Watchdog; w > 0 {
		// WATCHDOG_PID, as systemd sets it, tells the main process the
		// watchdog is its own and not a child's that inherits the variables.
		env = append(env, "WATCHDOG_USEC="+strconv.FormatInt(w.Microseconds(), 10))
		pidEnv = []string{"WATCHDOG_PID"}
	}
	proc := &specs.Process{Args: a.spec.Args, Env: a.spec.Env, Cwd: a.spec.Cwd, User: a.user}
	return launcher.Spec{Process: proc, Files: files, ExtraEnv: env, ListenPID: pid, PIDEnv: pidEnv, Setpgid: true,
		Cgroups: a.cgroups()}
}

// listenName is the default LISTEN_FDNAMES entry of an address given
// without a name (migrate-run --listen): its port or the socket file's base
// name.
func listenName(addr string) string {
	if scheme, p, _ := strings.Cut(addr, ":"); scheme == "unix" || scheme == "unixpacket" {
		return filepath.Base(p)
	}
	if i := strings.LastIndexByte(addr, ':'); i >= 0 {
		return addr[:strings.Index(addr, ":")] + "-" + addr[i+1:]
	}
	return "listen"
}

// stdioFiles places the app's held stdio at 0, 1 and 2, except where taken
// holds a number already placed (a slot of a continuation).
func stdioFiles(a *App, taken map[int]bool) []launcher.FD {
	var files []launcher.FD
	for i, fd := range a.stdio {
		if !taken[i] {
			files = append(files, launcher.FD{Target: i, FD: fd})
		}
	}
	return files
}

func (s *Supervisor) appEnv(a *App) []string {
	env := []string{"MIGRATE_SOCKET=" + s.cfg.Socket, "MIGRATE_APP=" + a.name}
	if a.notify != nil {
		env = append(env, "NOTIFY_SOCKET="+a.notify.Path())
	}
	return env
}

func (a *App) cgroups() []string {
	if a.group == nil {
		return nil
	}
	return a.group.Paths()
}

// tearDownApp closes what the app holds and removes its cgroup; its
// processes must be gone (stopApp).
func (s *Supervisor) tearDownApp(a *App) {
	for i, fd := range a.stdio {
		if a.capture != nil && i > 0 {
			continue // the capture's write ends
		}
		if fd >= 0 {
			_ = unix.Close(fd)
			a.stdio[i] = -1
		}
	}
	if a.capture != nil {
		a.capture.closeWrites()
	}
	s.stopAcceptors(a)
	closeFDs(a.listen)
	for _, l := range a.spec.Listen[:len(a.listen)] {
		if scheme, path, _ := strings.Cut(l.Address, ":"); scheme == "unix" || scheme == "unixpacket" {
			_ = os.Remove(path) // the socket file the supervisor bound
		}
	}
	if a.notify != nil {
		_ = a.notify.Close()
	}
	s.releaseFDStore(a, fdStoreKeep) // a failed start: kept for the next try
	a.listen = nil
	if a.group != nil {
		if err := a.group.Destroy(); err != nil {
			s.log.Warn().Err(err).Str("app", a.name).Msg("cgroup not removed")
		}
	}
}
