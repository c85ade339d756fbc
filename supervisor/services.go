package supervisor

import (
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"
)

// ConfigureServices reads the service files of dir (LoadServices) and
// starts them in dependency order (StartOrder): a service starts once every
// service it is after has started and, with readiness notify, is ready or
// has failed. A broken directory starts nothing and returns every problem.
// A service that fails to start is logged and left failed; the others go
// on. Call it once, after Run listens; SIGHUP is Reload.
func (s *Supervisor) ConfigureServices(dir string) error {
	svcs, err := LoadServices(dir)
	if err != nil {
		return err
	}
	stages, err := StartOrder(svcs)
	if err != nil {
		return err
	}
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	s.mu.Lock()
	s.servicesDir = dir
	for _, svc := range svcs {
		s.services[svc.Name] = svc
	}
	s.mu.Unlock()
	s.startStages(stages, nil)
	s.log.Info().Str("dir", dir).Int("services", len(svcs)).Msg("services configured")
	return nil
}

// startStages starts the services of each stage together, the stages one
// after the other; only the names in only (nil: all) start.
func (s *Supervisor) startStages(stages [][]*Service, only map[string]bool) {
	for _, stage := range stages {
		var wg sync.WaitGroup
		for _, svc := range stage {
			if only != nil && !only[svc.Name] {
				continue
			}
			wg.Go(func() {
				a, err := s.startService(svc)
				if err != nil {
					s.log.Error().Err(err).Str("app", svc.Name).Str("file", svc.File).Msg("service not started")
					return
				}
				s.waitStarted(a, svc.StartTimeout)
			})
		}
		wg.Wait()
	}
}

// startService starts a configured service from its definition.
func (s *Supervisor) startService(svc *Service) (*App, error) {
	a, err := s.StartApp(svc.AppSpec())
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.ended[svc.Name] = AppInfo{Name: svc.Name, State: StateFailed, Result: ResultSpawn, File: svc.File,
			Restart: svc.Restart.Policy, Processes: []int{}}
		return nil, err
	}
	delete(s.ended, svc.Name)
	return a, nil
}

// waitStarted waits until a started service is no longer starting (ready,
// or failed), for services after it to start; at most its start timeout
// (0: the default).
func (s *Supervisor) waitStarted(a *App, timeout time.Duration) {
	if timeout == 0 {
		timeout = DefaultStartTimeout
	}
	deadline := time.Now().Add(timeout + s.stopTimeout(a))
	for time.Now().Before(deadline) {
		s.mu.Lock()
		st, changed := a.run.state, a.run.changes()
		s.mu.Unlock()
		if st != StateStarting {
			return
		}
		wait := time.NewTimer(time.Until(deadline))
		select {
		case <-a.done:
		case <-changed:
		case <-wait.C:
		}
		wait.Stop()
	}
}

// Reload reads the service directory again and applies what changed:
// removed services stop, changed ones restart with their new definition,
// new ones start (in order). A broken directory changes nothing and
// returns every problem.
func (s *Supervisor) Reload() (ReloadResult, error) {
	s.mu.Lock()
	dir := s.servicesDir
	old := make([]*Service, 0, len(s.services))
	for _, svc := range s.services {
		old = append(old, svc)
	}
	s.mu.Unlock()
	if dir == "" {
		return ReloadResult{}, fmt.Errorf("reload services: the supervisor runs without a service directory: %w", ErrBadRequest)
	}
	svcs, err := LoadServices(dir)
	if err != nil {
		return ReloadResult{}, fmt.Errorf("reload services from %s, nothing changed: %w", dir, err)
	}
	stages, err := StartOrder(svcs)
	if err != nil {
		return ReloadResult{}, fmt.Errorf("reload services from %s, nothing changed: %w", dir, err)
	}
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	d := DiffServices(old, svcs)
	res := ReloadResult{Started: orEmpty(d.Added), Stopped: orEmpty(d.Removed), Restarted: orEmpty(d.Changed),
		Unchanged: orEmpty(d.Unchanged)}
	for _, name := range slices.Concat(d.Removed, d.Changed) {
		s.stopService(name)
	}
	s.mu.Lock()
	for _, name := range d.Removed {
		delete(s.services, name)
		delete(s.ended, name)
	}
	for _, svc := range svcs {
		s.services[svc.Name] = svc
	}
	s.mu.Unlock()
	only := map[string]bool{}
	for _, name := range slices.Concat(d.Added, d.Changed) {
		only[name] = true
	}
	s.startStages(stages, only)
	s.log.Info().Str("dir", dir).Strs("started", d.Added).Strs("stopped", d.Removed).Strs("restarted", d.Changed).
		Msg("services reloaded")
	return res, nil
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// stopService stops app name, configured or not, and remembers the final
// state of a configured one.
func (s *Supervisor) stopService(name string) {
	s.mu.Lock()
	a := s.apps[name]
	s.mu.Unlock()
	if a == nil {
		return
	}
	s.stopApp(a, true)
	info := s.infoOf(a)
	s.mu.Lock()
	if svc := s.services[name]; svc != nil {
		info.Processes = []int{}
		s.ended[name] = info
	}
	s.mu.Unlock()
}

// StartService starts app name: a configured service that is not running
// (stopped, or never started), or an app whose main process exited or
// failed (its restart counters start again).
func (s *Supervisor) StartService(name string) (AppInfo, error) {
	return s.operate("start", name, func(a *App) (AppInfo, error) { return s.startAgain(a, false) })
}

// RestartService stops every process of app name and starts its main
// process again; the app keeps its sockets, fd store, log and held
// continuations. An accept service keeps accepting; its connections end.
func (s *Supervisor) RestartService(name string) (AppInfo, error) {
	return s.operate("restart", name, func(a *App) (AppInfo, error) { return s.startAgain(a, true) })
}

// operate runs an operator's start or restart: running on the app of that
// name, or else starting the configured service.
func (s *Supervisor) operate(op, name string, running func(*App) (AppInfo, error)) (AppInfo, error) {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	s.mu.Lock()
	a, svc := s.apps[name], s.services[name]
	s.mu.Unlock()
	switch {
	case a != nil:
		return running(a)
	case svc == nil:
		return AppInfo{}, fmt.Errorf("%s %s: %w", op, name, ErrUnknownApp)
	}
	a, err := s.startService(svc)
	if err != nil {
		return AppInfo{}, fmt.Errorf("%s %s: %w", op, name, err)
	}
	s.waitStarted(a, svc.StartTimeout)
	return s.infoOf(a), nil
}

// startAgain starts the main process of a running app again, after
// stopping its processes when halt is set; a running app is left alone
// without halt.
func (s *Supervisor) startAgain(a *App, halt bool) (AppInfo, error) {
	s.mu.Lock()
	switch a.run.state {
	case StateExited, StateFailed, StateRestarting:
	default:
		if !halt {
			s.mu.Unlock()
			return s.infoOf(a), nil // already running
		}
	}
	r := &a.run
	r.beginHalt()
	s.mu.Unlock()
	s.haltProcs(a)
	s.mu.Lock()
	r.halting = false
	r.failures, r.restarts, r.starts = 0, 0, nil
	s.mu.Unlock()
	var err error
	if a.spec.accepts() {
		s.mu.Lock()
		r.set(StateRunning)
		r.ready, r.pending = true, false
		s.mu.Unlock()
	} else {
		err = s.startMain(a, false)
	}
	s.checkDone(a)
	if err != nil {
		return s.infoOf(a), fmt.Errorf("start %s: %w", a.name, err)
	}
	s.mu.Lock()
	svc := s.services[a.name]
	s.mu.Unlock()
	if svc != nil {
		s.waitStarted(a, svc.StartTimeout)
	}
	return s.infoOf(a), nil
}

// StopService stops app name; a configured service stays configured, in
// state stopped.
func (s *Supervisor) StopService(name string) (AppInfo, error) {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	s.mu.Lock()
	a, svc := s.apps[name], s.services[name]
	s.mu.Unlock()
	switch {
	case a != nil:
		s.stopService(name)
		return s.infoOf(a), nil
	case svc != nil:
		return s.endedInfo(svc), nil // not running: nothing to do
	}
	return AppInfo{}, fmt.Errorf("stop %s: %w", name, ErrUnknownApp)
}

// Services describes every app and every configured service that does not
// run, sorted by name.
func (s *Supervisor) Services() []AppInfo {
	out := s.Apps()
	running := map[string]bool{}
	for _, a := range out {
		running[a.Name] = true
	}
	s.mu.Lock()
	var idle []*Service
	for name, svc := range s.services {
		if !running[name] {
			idle = append(idle, svc)
		}
	}
	s.mu.Unlock()
	for _, svc := range idle {
		out = append(out, s.endedInfo(svc))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// endedInfo describes a configured service that does not run.
func (s *Supervisor) endedInfo(svc *Service) AppInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	info, ok := s.ended[svc.Name]
	if !ok {
		info = AppInfo{Name: svc.Name, State: StateInactive, File: svc.File, Restart: svc.Restart.Policy, Processes: []int{}}
		for _, l := range svc.Listen {
			info.Listen = append(info.Listen, listenInfo(l))
		}
	}
	info.FDStore = nil
	if f := s.keptFDStores[svc.Name]; f != nil { // fdstore_preserve: waiting for the next start
		info.FDStore = fdStoreInfos(f.entries())
	}
	return info
}

// Status describes app name in detail: Info plus its cgroup's usage.
func (s *Supervisor) Status(name string) (AppInfo, error) {
	s.mu.Lock()
	a, svc := s.apps[name], s.services[name]
	s.mu.Unlock()
	switch {
	case a != nil:
		info := s.infoOf(a)
		if a.group != nil {
			if st, err := a.group.Stats(); err == nil {
				info.Usage = usageOf(st)
			}
		}
		return info, nil
	case svc != nil:
		return s.endedInfo(svc), nil
	}
	return AppInfo{}, fmt.Errorf("status of %s: %w", name, ErrUnknownApp)
}
