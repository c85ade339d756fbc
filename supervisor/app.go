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
	// Listen are addresses ("tcp://HOST:PORT", "unix:PATH") the supervisor
	// opens and holds for the app: the main process gets them from fd 3 up
	// with LISTEN_FDS, LISTEN_PID and LISTEN_FDNAMES.
	Listen []string
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
	orphan    bool        // a placeholder: the app does not run (see adopt)
	attach    []*conn     // connections that sent Attach, oldest first
	capture   *capture    // nil unless spec.Capture; set before the app starts
	done      chan struct{}
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
	s.log.Info().Str("app", a.name).Int("pid", a.main.pid).Strs("args", spec.Args).Msg("app started")
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
	for _, addr := range a.spec.Listen {
		fd, err := openListener(addr)
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
	if _, err := s.launch(a, s.mainSpec(a), 0); err != nil {
		return err
	}
	s.mu.Lock()
	s.adopt(a)
	s.mu.Unlock()
	return nil
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

// mainSpec is the launch of the app's main process: stdio, listening
// sockets from fd 3, the app's environment.
func (s *Supervisor) mainSpec(a *App) launcher.Spec {
	files := stdioFiles(a, nil)
	var names []string
	for i, fd := range a.listen {
		files = append(files, launcher.FD{Target: 3 + i, FD: fd})
		names = append(names, listenName(a.spec.Listen[i]))
	}
	env := s.appEnv(a)
	pid := false
	if len(a.listen) > 0 {
		env = append(env, "LISTEN_FDS="+strconv.Itoa(len(a.listen)), "LISTEN_FDNAMES="+strings.Join(names, ":"))
		pid = true
	}
	proc := &specs.Process{Args: a.spec.Args, Env: a.spec.Env, Cwd: a.spec.Cwd, User: a.user}
	return launcher.Spec{Process: proc, Files: files, ExtraEnv: env, ListenPID: pid, Setpgid: true, Cgroups: a.cgroups()}
}

// listenName is the LISTEN_FDNAMES entry of an address: its port or the
// socket file's base name.
func listenName(addr string) string {
	if p, ok := strings.CutPrefix(addr, "unix:"); ok {
		return filepath.Base(p)
	}
	if i := strings.LastIndexByte(addr, ':'); i >= 0 {
		return "tcp-" + addr[i+1:]
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
	return []string{"MIGRATE_SOCKET=" + s.cfg.Socket, "MIGRATE_APP=" + a.name}
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
	closeFDs(a.listen)
	for _, addr := range a.spec.Listen[:len(a.listen)] {
		if path, ok := strings.CutPrefix(addr, "unix:"); ok {
			_ = os.Remove(path) // the socket file the supervisor bound
		}
	}
	a.listen = nil
	if a.group != nil {
		if err := a.group.Destroy(); err != nil {
			s.log.Warn().Err(err).Str("app", a.name).Msg("cgroup not removed")
		}
	}
}
