package supervisor

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/migrate-run/migrate/accounting"
	"github.com/migrate-run/migrate/contstore"
)

// Supervisor runs apps, registers their sessions, and suspends and resumes
// them through continuations it stores and whose descriptors it holds.
// Make one with New, serve with Run; its methods are safe for concurrent
// use.
type Supervisor struct {
	cfg   Config
	log   zerolog.Logger
	store *contstore.Store
	cg    *accounting.Manager // nil when apps run without cgroups
	lock  *parentLock         // the cgroup parent's, held while cg is set; nil without
	ln    *net.UnixListener
	wg    sync.WaitGroup // connection, reaper and sweeper goroutines

	// launches are the launches in flight and the exits reaped before
	// their pids were registered (process.go); guarded by mu.
	launches launchTable

	mu       sync.Mutex
	closed   bool
	apps     map[string]*App
	orphans  map[string]*App // placeholders of apps with recovered continuations, see adopt
	sessions map[contstore.SessionID]*session
	held     map[contstore.ID]*heldCont // the holder table
	execs    execTable                  // exec descriptions the held continuations share (holder.go)
	expiries map[contstore.ID]int64     // every stored continuation with an expiry, in Unix nanoseconds (8 bytes, not time.Time's 24)
	conns    map[*conn]struct{}
	procs    map[int]*proc // started and not yet reaped
	// services are the configured services by name (services.go); dir is
	// the directory they were read from ("" for none).
	services     map[string]*Service
	servicesDir  string
	ended        map[string]AppInfo             // the last state of configured services not running
	keptFDStores map[string]*fdStore            // fd stores kept for an app's next run
	fdSessions   map[string]contstore.SessionID // the session of an app's fd-store records
	reloadMu     sync.Mutex                     // serializes reloads and operator start/stop/restart
	sweepWake    chan struct{}
	running      chan struct{} // closed once Run serves

	onStage func(stage, time.Duration) // test hook, see trace.go
}

// New takes the supervisor's cgroup parent, opens the continuation store
// under cfg.StateDir, recovers what an earlier run left in it (see Caveats
// in the package documentation) and prepares the apps' cgroups. It does not
// listen yet: Run does. Where apps get cgroups, the supervisor holds its
// cgroup parent exclusively until Run returns: when another live supervisor
// holds it, New fails with a *ParentInUseError (ErrParentInUse) naming its
// pid, having touched no cgroup and no store. Errors from the store (locked
// by another process, corrupt, another schema) are returned wrapped, naming
// the file.
func New(cfg Config) (_ *Supervisor, retErr error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	s := &Supervisor{cfg: cfg, log: cfg.Log, apps: map[string]*App{}, orphans: map[string]*App{},
		sessions: map[contstore.SessionID]*session{}, held: map[contstore.ID]*heldCont{},
		expiries: map[contstore.ID]int64{}, conns: map[*conn]struct{}{}, procs: map[int]*proc{},
		services: map[string]*Service{}, ended: map[string]AppInfo{}, keptFDStores: map[string]*fdStore{},
		fdSessions: map[string]contstore.SessionID{},
		sweepWake:  make(chan struct{}, 1), running: make(chan struct{})}
	m := s.cgroupManager()
	if m != nil {
		if s.lock, err = lockParent(lockDir(), s.cgroupParent()); err != nil {
			return nil, err
		}
		defer func() {
			if retErr != nil {
				s.lock.release()
			}
		}()
	}
	if err := os.MkdirAll(cfg.StateDir, 0o700); err != nil {
		return nil, fmt.Errorf("create state directory: %w", err)
	}
	path := filepath.Join(cfg.StateDir, StoreFile)
	s.store, err = contstore.Open(path, contstore.Options{})
	if err != nil {
		return nil, fmt.Errorf("open continuation store %s: %w", path, err)
	}
	if err := s.recover(); err != nil {
		s.store.Close()
		return nil, err
	}
	s.cg = s.enterLeaf(m)
	s.logTrampoline() // opens the trampoline binary now, once for the process (process.go)
	return s, nil
}

// cgroupParent is the parent cgroup of the apps, without a leading '/'.
func (s *Supervisor) cgroupParent() string {
	if s.cfg.CgroupParent == "" {
		return accounting.DefaultParent
	}
	return strings.TrimPrefix(s.cfg.CgroupParent, "/")
}

// cgroupManager returns the cgroup manager, or nil (logged) where cgroups
// cannot be used: configured off, not root, no hierarchy, a bad parent. It
// changes nothing on the host.
func (s *Supervisor) cgroupManager() *accounting.Manager {
	if s.cfg.NoCgroups {
		s.log.Info().Msg("running apps without cgroups, as configured")
		return nil
	}
	m, err := accounting.NewManager(s.cgroupParent())
	if err == nil && os.Geteuid() != 0 {
		err = errors.New("not root")
	}
	if err != nil {
		s.cgroupsUnavailable(err)
		return nil
	}
	return m
}

// enterLeaf moves the supervisor into its leaf under the parent, which it
// holds, and returns m; or nil, letting the parent go, where that fails
// (no delegation).
func (s *Supervisor) enterLeaf(m *accounting.Manager) *accounting.Manager {
	if m == nil {
		return nil
	}
	if err := m.EnterLeaf(); err != nil {
		s.cgroupsUnavailable(err)
		s.lock.release()
		return nil
	}
	s.log.Info().Stringer("mode", m.Mode()).Str("parent", s.cgroupParent()).Str("lock", s.lock.path).Msg("cgroups ready")
	return m
}

func (s *Supervisor) cgroupsUnavailable(err error) {
	s.log.Warn().Err(err).Msg("cgroups unavailable, apps run without them and peers are identified by process ancestry")
}

// Run listens on the control socket and serves until ctx ends, then stops
// every app (SIGTERM, then the cgroup's SIGKILL after Config.StopTimeout),
// closes the held descriptors and the store, lets the cgroup parent go, and
// returns nil. It returns ErrRunning when another supervisor answers on the
// socket, having let go of the store and the parent too. Run is called
// once.
func (s *Supervisor) Run(ctx context.Context) error {
	ln, err := listenControl(s.cfg.Socket)
	if err != nil {
		s.shutdownStore()
		s.lock.release()
		return err
	}
	if err := becomeSubreaper(); err != nil {
		s.log.Warn().Err(err).Msg("not a subreaper: orphans of apps go to init")
	}
	s.ln = ln
	stopReap, stopSweep := make(chan struct{}), make(chan struct{})
	s.wg.Add(3)
	go s.reap(stopReap)
	go s.sweep(stopSweep)
	go s.acceptLoop()
	close(s.running)
	s.log.Info().Str("socket", s.cfg.Socket).Str("store", s.store.Path()).Msg("supervisor running")
	<-ctx.Done()
	s.shutdown(stopReap, stopSweep)
	return nil
}

// Running returns a channel closed once Run listens.
func (s *Supervisor) Running() <-chan struct{} { return s.running }

// Socket returns the control socket's path.
func (s *Supervisor) Socket() string { return s.cfg.Socket }

func (s *Supervisor) acceptLoop() {
	defer s.wg.Done()
	for {
		uc, err := s.ln.AcceptUnix()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				s.log.Error().Err(err).Msg("accept failed")
			}
			return
		}
		s.wg.Add(1)
		go s.serve(uc)
	}
}

// shutdown stops accepting, stops the apps, ends every goroutine and
// closes the store. Continuations stay stored: a later run finds them.
func (s *Supervisor) shutdown(stopReap, stopSweep chan struct{}) {
	s.mu.Lock()
	s.closed = true
	apps := make([]*App, 0, len(s.apps))
	for _, a := range s.apps {
		apps = append(apps, a)
	}
	s.mu.Unlock()
	_ = s.ln.Close()
	_ = os.Remove(s.cfg.Socket)
	defer os.Remove(filepath.Join(filepath.Dir(s.cfg.Socket), "notify")) // once the apps' sockets are gone, if empty
	var wg sync.WaitGroup
	for _, a := range apps {
		wg.Go(func() { s.stopApp(a, false) })
	}
	wg.Wait()
	s.mu.Lock()
	for c := range s.conns {
		_ = c.c.Close()
	}
	s.mu.Unlock()
	close(stopSweep)
	close(stopReap)
	s.wg.Wait()
	s.closeHeld()
	s.mu.Lock()
	for name, f := range s.keptFDStores {
		f.close()
		delete(s.keptFDStores, name)
	}
	s.mu.Unlock()
	if s.cg != nil {
		_ = s.cg.Delete()
	}
	s.shutdownStore()
	s.lock.release() // last: the parent is free for another supervisor
	s.log.Info().Msg("supervisor stopped")
}

func (s *Supervisor) shutdownStore() {
	if err := s.store.Close(); err != nil {
		s.log.Error().Err(err).Msg("store not closed cleanly")
	}
}
