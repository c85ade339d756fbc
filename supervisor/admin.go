package supervisor

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/migrate-run/migrate/accounting"
	"github.com/migrate-run/migrate/contstore"
	"github.com/migrate-run/migrate/proto"
)

// goAdmin runs an admin request in a goroutine of its own: suspend, resume
// and wait-app wait on other connections.
func (s *Supervisor) goAdmin(c *conn, m proto.Message, fds []int) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		var doc any
		var err error
		switch b := m.Body.(type) {
		case *proto.AdminStartApp:
			doc, err = s.adminStart(c, b, fds)
		case *proto.AdminRequest:
			closeFDs(fds)
			doc, err = s.admin(c, b)
		}
		if err != nil {
			c.fail(m.ID, err)
			return
		}
		js, err := json.Marshal(doc)
		if err != nil {
			c.fail(m.ID, fmt.Errorf("encode reply: %w", err))
			return
		}
		c.reply(m.ID, &proto.AdminReply{JSON: js})
	}()
}

// admin runs one AdminRequest and returns its reply document.
func (s *Supervisor) admin(c *conn, r *proto.AdminRequest) (any, error) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-c.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	switch r.Op {
	case proto.AdminApps:
		return map[string]any{"apps": s.Apps()}, nil
	case proto.AdminSessions:
		return map[string]any{"sessions": s.Sessions(r.App)}, nil
	case proto.AdminConts:
		list, err := s.Continuations(r.App, contstore.State(r.State))
		return map[string]any{"continuations": list}, err
	case proto.AdminShow:
		ci, err := s.Show(contstore.ID(r.Cont), r.Values)
		return map[string]any{"continuation": ci}, err
	case proto.AdminSuspend:
		st := newStageRecorder()
		ids, err := s.Suspend(withStages(ctx, st), contstore.SessionID(r.Session), proto.ReasonOperator)
		return map[string]any{"continuations": ids, "stages": st.times()}, err
	case proto.AdminResume:
		st := newStageRecorder()
		res, err := s.Resume(withStages(ctx, st), contstore.ID(r.Cont))
		return map[string]any{"cont": contstore.ID(r.Cont), "pid": res.PID, "stages": st.times()}, err
	case proto.AdminDrop:
		return map[string]any{"cont": contstore.ID(r.Cont)}, s.Drop(contstore.ID(r.Cont))
	case proto.AdminGC:
		ids, err := s.GC(ctx)
		return map[string]any{"expired": ids}, err
	case proto.AdminStats:
		return s.Stats()
	case proto.AdminStopApp:
		s.mu.Lock()
		a := s.apps[r.App]
		s.mu.Unlock()
		if err := s.StopApp(r.App); err != nil {
			return nil, err
		}
		return map[string]any{"app": s.infoOf(a)}, nil
	case proto.AdminWaitApp:
		return s.waitApp(ctx, r.App)
	case proto.AdminLogs:
		return s.Logs(r.App, r.Since)
	case proto.AdminServices:
		return map[string]any{"services": s.Services()}, nil
	case proto.AdminStatus:
		info, err := s.Status(r.App)
		return map[string]any{"service": info}, err
	case proto.AdminStart:
		info, err := s.StartService(r.App)
		return map[string]any{"service": info}, err
	case proto.AdminStop:
		info, err := s.StopService(r.App)
		return map[string]any{"service": info}, err
	case proto.AdminRestart:
		info, err := s.RestartService(r.App)
		return map[string]any{"service": info}, err
	case proto.AdminReload:
		return s.Reload()
	case proto.AdminUpgrade:
		return s.Upgrade(ctx, r.App, r.Exec, r.Version)
	}
	return nil, fmt.Errorf("admin %q: %w", r.Op, ErrBadRequest)
}

// adminStart starts an app for migrate-run: its stdio are the three
// descriptors received, its output captured (and forwarded to them), and
// it runs as the peer's uid and gid.
func (s *Supervisor) adminStart(c *conn, r *proto.AdminStartApp, fds []int) (any, error) {
	defer closeFDs(fds)
	user, err := appUser(nil)
	if err != nil {
		return nil, err
	}
	if user.UID != c.cred.Uid || user.GID != c.cred.Gid {
		user.UID, user.GID, user.AdditionalGids = c.cred.Uid, c.cred.Gid, nil
	}
	spec := AppSpec{Name: r.Name, Args: r.Args, Env: r.Env, Cwd: r.Cwd, User: &user,
		Stdio: [3]int{fds[0], fds[1], fds[2]}, Expiry: time.Duration(r.ExpirySec) * time.Second, Capture: true}
	for _, addr := range r.Listen {
		spec.Listen = append(spec.Listen, ListenSpec{Address: addr, Name: listenName(addr)})
	}
	if len(r.Options) > 0 {
		var o StartOptions
		if err := json.Unmarshal(r.Options, &o); err != nil {
			return nil, fmt.Errorf("start app %s: options: %v: %w", r.Name, err, ErrBadRequest)
		}
		if err := o.Apply(&spec); err != nil {
			return nil, fmt.Errorf("start app %s: %w", r.Name, err)
		}
	}
	a, err := s.StartApp(spec)
	if err != nil {
		return nil, err
	}
	info, _ := s.appInfo(a.name)
	return map[string]any{"app": info}, nil
}

// waitApp answers once the app is done (App.Done), with its final state.
func (s *Supervisor) waitApp(ctx context.Context, name string) (any, error) {
	s.mu.Lock()
	a := s.apps[name]
	s.mu.Unlock()
	if a == nil {
		return nil, fmt.Errorf("wait for app %s: %w", name, ErrUnknownApp)
	}
	select {
	case <-a.done:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return map[string]any{"app": s.infoOf(a)}, nil
}

// Apps lists the apps.
func (s *Supervisor) Apps() []AppInfo {
	s.mu.Lock()
	apps := make([]*App, 0, len(s.apps))
	for _, a := range s.apps {
		apps = append(apps, a)
	}
	s.mu.Unlock()
	out := make([]AppInfo, 0, len(apps))
	for _, a := range apps {
		out = append(out, s.infoOf(a))
	}
	return out
}

func (s *Supervisor) appInfo(name string) (AppInfo, error) {
	s.mu.Lock()
	a := s.apps[name]
	s.mu.Unlock()
	if a == nil {
		return AppInfo{Name: name}, fmt.Errorf("find app %s: %w", name, ErrUnknownApp)
	}
	return s.infoOf(a), nil
}

// Info describes app a, also after it stopped.
func (s *Supervisor) Info(a *App) AppInfo { return s.infoOf(a) }

func (s *Supervisor) infoOf(a *App) AppInfo {
	procs := s.liveProcs(a)
	var store []fdEntry
	s.mu.Lock()
	f := a.fds
	s.mu.Unlock()
	if f != nil {
		store = f.entries()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r := &a.run
	info := AppInfo{Name: a.name, State: r.state, Result: r.result, StatusText: r.statusText, Errno: r.errno,
		Ready: r.ready, File: a.spec.File, Restart: a.spec.Restart.Policy, Restarts: r.restarts, NextStart: r.next,
		Started: a.started, Exit: a.exit, Processes: procs, PID: a.mainPIDLocked()}
	if info.PID == 0 && a.main != nil {
		info.PID = a.main.pid // the main process that ended (see Exit)
	}
	if info.Restart == "" {
		info.Restart = RestartNo
	}
	if info.Processes == nil {
		info.Processes = []int{}
	}
	for i, l := range a.spec.Listen {
		li := listenInfo(l)
		if i < len(a.listen) {
			li.Address = boundAddress(l.Address, a.listen[i])
		}
		if i < len(a.acceptors) {
			ac := a.acceptors[i]
			li.Connections, li.Accepted, li.Refused = ac.open, ac.accepted, ac.refused
		}
		info.Listen = append(info.Listen, li)
	}
	info.FDStore = fdStoreInfos(store)
	if a.group != nil {
		info.Cgroup = a.cgroupRel
	}
	for _, sess := range s.sessions {
		if sess.app == a && sess.state != sessionSuspended {
			info.Sessions++
		}
	}
	for _, h := range s.held {
		if h.app == a {
			info.Suspended++
		}
	}
	select {
	case <-a.done:
		info.Done = true
	default:
	}
	return info
}

// listenInfo describes a socket as configured; the caller adds what a
// running app's socket has (its bound port, its connections).
func listenInfo(l ListenSpec) ListenInfo {
	return ListenInfo{Address: l.Address, Name: l.Name, Accept: l.Accept, MaxConnections: l.MaxConnections}
}

// fdStoreInfos describes fd store entries; nil for none.
func fdStoreInfos(entries []fdEntry) []FDStoreInfo {
	var out []FDStoreInfo
	for _, e := range entries {
		out = append(out, FDStoreInfo{Name: e.Name, Cont: contstore.ID(e.Key), Added: e.Added, Desc: e.Desc})
	}
	return out
}

// usageOf turns a cgroup's stats into the document's usage; the
// controllers the hierarchy lacks stay 0.
func usageOf(st accounting.Stats) *Usage {
	limit := func(v uint64) uint64 {
		if v == accounting.Unlimited {
			return 0
		}
		return v
	}
	return &Usage{MemoryBytes: st.MemoryUsage, MemoryMax: limit(st.MemoryLimit), MemoryPeak: st.MemoryPeak,
		CPU: st.CPUUsage, Tasks: st.PidsCurrent, TasksMax: limit(st.PidsLimit)}
}

// Sessions lists the live sessions, of one app or all ("").
func (s *Supervisor) Sessions(app string) []SessionInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []SessionInfo{}
	for _, sess := range s.sessions {
		if app != "" && sess.app.name != app {
			continue
		}
		out = append(out, SessionInfo{ID: sess.id, App: sess.app.name, Name: sess.name, State: string(sess.state),
			PID: sess.pid, Handler: sess.handler.String(), DependsOn: sess.deps, Cont: sess.cont, Conn: sess.desc})
	}
	return out
}

// Continuations lists stored continuations, filtered by app and state
// (empty: all).
func (s *Supervisor) Continuations(app string, state contstore.State) ([]ContInfo, error) {
	if state != "" && !state.Valid() {
		return nil, fmt.Errorf("list continuations in state %q: %w", state, ErrBadRequest)
	}
	list, err := s.store.List(contstore.Filter{App: app, State: state, SkipStore: true})
	if err != nil {
		return nil, fmt.Errorf("list continuations: %w", err)
	}
	out := make([]ContInfo, 0, len(list))
	for _, c := range list {
		out = append(out, contInfo(c))
	}
	return out, nil
}

// Show returns everything about one continuation; values adds the store's
// values.
func (s *Supervisor) Show(id contstore.ID, values bool) (ContInfo, error) {
	rec, err := s.store.Get(id)
	if err != nil {
		return ContInfo{}, fmt.Errorf("show continuation %v: %w", id, ErrUnknownCont)
	}
	s.mu.Lock()
	var held []int
	if h := s.held[id]; h != nil {
		held = append(held, h.fds...)
		rec.Store = h.rec.Store
	}
	s.mu.Unlock()
	return showInfo(rec, held, values), nil
}

// Stats returns counts by state, held descriptors before and after
// collapse, the store's size and the supervisor's own open descriptors.
func (s *Supervisor) Stats() (Stats, error) {
	st, err := s.store.Stats()
	if err != nil {
		return Stats{}, fmt.Errorf("read store stats: %w", err)
	}
	out := Stats{Continuations: st.Continuations, ByState: st.ByState, StoreFileBytes: st.FileBytes,
		StoreRawBytes: st.StoreRawBytes, StoreCompressedBytes: st.StoreCompressedBytes}
	out.HeldBefore, out.HeldAfter = s.heldTotals()
	s.mu.Lock()
	out.Apps, out.Sessions = len(s.apps), len(s.sessions)
	s.mu.Unlock()
	if ents, err := os.ReadDir("/proc/self/fd"); err == nil {
		out.OpenFDs = len(ents) - 1 // less the directory's own descriptor
	}
	return out, nil
}
