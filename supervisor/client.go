package supervisor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/migrate-run/migrate/contstore"
	"github.com/migrate-run/migrate/fdpass"
	"github.com/migrate-run/migrate/proto"
)

// AdminClient talks to a supervisor's admin API over its control socket.
// It sends one request at a time; use one client per concurrent waiter
// (WaitApp blocks its client until the app is done).
type AdminClient struct {
	mu   sync.Mutex
	c    *net.UnixConn
	next uint64
	buf  []byte
}

// Dial connects to the control socket at path. The supervisor accepts the
// connection as an admin only from its own uid or root, and from a process
// outside its apps.
func Dial(path string) (*AdminClient, error) {
	c, err := net.DialUnix("unixpacket", nil, &net.UnixAddr{Name: path, Net: "unixpacket"})
	if err != nil {
		return nil, fmt.Errorf("dial supervisor at %s: %w", path, err)
	}
	return &AdminClient{c: c, buf: make([]byte, proto.MaxMessageSize)}, nil
}

// Close closes the connection.
func (a *AdminClient) Close() error { return a.c.Close() }

// Do sends one admin request and returns the reply's JSON document; an
// Error reply comes back as a *proto.Error. migratectl --json prints the
// document as it is.
func (a *AdminClient) Do(ctx context.Context, r *proto.AdminRequest) ([]byte, error) {
	return a.roundTrip(ctx, r, nil)
}

func (a *AdminClient) roundTrip(ctx context.Context, body proto.Body, fds []int) ([]byte, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.next++
	id := a.next
	rec, err := proto.Encode(proto.Message{ID: id, Body: body})
	if err != nil {
		return nil, fmt.Errorf("encode %v: %w", body.Type(), err)
	}
	stop := context.AfterFunc(ctx, func() { _ = a.c.SetDeadline(time.Unix(1, 0)) })
	defer func() {
		if !stop() {
			_ = a.c.SetDeadline(time.Time{})
		}
	}()
	if err := fdpass.Send(a.c, rec, fds); err != nil {
		return nil, a.ctxErr(ctx, fmt.Errorf("send %v: %w", body.Type(), err))
	}
	for {
		// One descriptor: a reply too large for a record (a long list)
		// comes in a sealed memfd.
		payload, got, err := fdpass.Recv(a.c, a.buf, 1, proto.DeclaredFDs)
		if err != nil {
			return nil, a.ctxErr(ctx, fmt.Errorf("receive reply to %v: %w", body.Type(), err))
		}
		m, err := decodeReply(payload, got)
		if err != nil {
			return nil, fmt.Errorf("decode reply to %v: %w", body.Type(), err)
		}
		if m.ID != id {
			continue // the reply to an earlier, abandoned request
		}
		switch b := m.Body.(type) {
		case *proto.AdminReply:
			return b.JSON, nil
		case *proto.Error:
			return nil, b
		}
		return nil, fmt.Errorf("reply to %v: unexpected %v", body.Type(), m.Body.Type())
	}
}

// decodeReply decodes a reply record, its payload read from the sealed
// memfd it carries when it did not fit a record. It closes fds.
func decodeReply(rec []byte, fds []int) (proto.Message, error) {
	defer closeFDs(fds)
	h, err := proto.DecodeHeader(rec)
	if err != nil {
		return proto.Message{}, err
	}
	if h.Flags&proto.FlagPayloadMemfd == 0 {
		return proto.Decode(rec)
	}
	if len(fds) == 0 {
		return proto.Message{}, fmt.Errorf("%w: a memfd payload without its memfd", proto.ErrFDCount)
	}
	payload, err := fdpass.ReadSealedMemfd(fds[len(fds)-1], proto.MaxMemfdPayload)
	if err != nil {
		return proto.Message{}, fmt.Errorf("read memfd payload: %w", err)
	}
	return proto.DecodeMemfd(rec, payload)
}

func (a *AdminClient) ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return errors.Join(ctx.Err(), err)
	}
	return err
}

func (a *AdminClient) call(ctx context.Context, r *proto.AdminRequest, out any) error {
	js, err := a.Do(ctx, r)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(js, out); err != nil {
		return fmt.Errorf("decode %s reply: %w", r.Op, err)
	}
	return nil
}

// Apps lists the apps.
func (a *AdminClient) Apps(ctx context.Context) ([]AppInfo, error) {
	var r struct{ Apps []AppInfo }
	err := a.call(ctx, &proto.AdminRequest{Op: proto.AdminApps}, &r)
	return r.Apps, err
}

// Sessions lists live sessions of app ("" for all).
func (a *AdminClient) Sessions(ctx context.Context, app string) ([]SessionInfo, error) {
	var r struct{ Sessions []SessionInfo }
	err := a.call(ctx, &proto.AdminRequest{Op: proto.AdminSessions, App: app}, &r)
	return r.Sessions, err
}

// Continuations lists stored continuations of app in state ("" for any).
func (a *AdminClient) Continuations(ctx context.Context, app string, state contstore.State) ([]ContInfo, error) {
	var r struct{ Continuations []ContInfo }
	err := a.call(ctx, &proto.AdminRequest{Op: proto.AdminConts, App: app, State: string(state)}, &r)
	return r.Continuations, err
}

// Show returns everything about a continuation; values adds store values.
func (a *AdminClient) Show(ctx context.Context, id contstore.ID, values bool) (ContInfo, error) {
	var r struct{ Continuation ContInfo }
	err := a.call(ctx, &proto.AdminRequest{Op: proto.AdminShow, Cont: uint64(id), Values: values}, &r)
	return r.Continuation, err
}

// Suspend suspends a session (and its dependents) and returns the
// committed continuations, the session's first.
func (a *AdminClient) Suspend(ctx context.Context, session contstore.SessionID) ([]contstore.ID, error) {
	ids, _, err := a.SuspendStages(ctx, session)
	return ids, err
}

// SuspendStages is Suspend that also returns how long the steps of the
// session's own suspend took in the supervisor (StageAppSuspend,
// StageAppReturn, StageCommit); a supervisor older than the stages returns
// none, one older than app_return only the other two.
func (a *AdminClient) SuspendStages(ctx context.Context, session contstore.SessionID) ([]contstore.ID, StageTimes, error) {
	var r struct {
		Continuations []contstore.ID
		Stages        StageTimes
	}
	err := a.call(ctx, &proto.AdminRequest{Op: proto.AdminSuspend, Session: uint64(session)}, &r)
	return r.Continuations, r.Stages, err
}

// Resume resumes a continuation and waits until it is resumed; the
// result's Stages say how long its steps took in the supervisor
// (StageLaunch, StageNotified, and StageAppStart, StageAppRequests and
// StageConfirmCommit inside notified, for a complete continuation).
func (a *AdminClient) Resume(ctx context.Context, id contstore.ID) (ResumeResult, error) {
	var r struct {
		PID    int
		Stages StageTimes
	}
	err := a.call(ctx, &proto.AdminRequest{Op: proto.AdminResume, Cont: uint64(id)}, &r)
	return ResumeResult{PID: r.PID, Stages: r.Stages}, err
}

// Drop discards a suspended continuation.
func (a *AdminClient) Drop(ctx context.Context, id contstore.ID) error {
	var r struct{}
	return a.call(ctx, &proto.AdminRequest{Op: proto.AdminDrop, Cont: uint64(id)}, &r)
}

// GC expires what is due and returns the expired ids.
func (a *AdminClient) GC(ctx context.Context) ([]contstore.ID, error) {
	var r struct{ Expired []contstore.ID }
	err := a.call(ctx, &proto.AdminRequest{Op: proto.AdminGC}, &r)
	return r.Expired, err
}

// Stats returns the supervisor's accounting.
func (a *AdminClient) Stats(ctx context.Context) (Stats, error) {
	var r Stats
	err := a.call(ctx, &proto.AdminRequest{Op: proto.AdminStats}, &r)
	return r, err
}

// StopApp stops an app.
func (a *AdminClient) StopApp(ctx context.Context, name string) (AppInfo, error) {
	var r struct{ App AppInfo }
	err := a.call(ctx, &proto.AdminRequest{Op: proto.AdminStopApp, App: name}, &r)
	return r.App, err
}

// WaitApp waits until the app is done (App.Done) and returns its state.
func (a *AdminClient) WaitApp(ctx context.Context, name string) (AppInfo, error) {
	var r struct{ App AppInfo }
	err := a.call(ctx, &proto.AdminRequest{Op: proto.AdminWaitApp, App: name}, &r)
	return r.App, err
}

// StartApp starts an app in the supervisor with stdio as its standard
// input, output and error (the caller's descriptors, which the supervisor
// duplicates); it runs with the caller's uid and gid.
func (a *AdminClient) StartApp(ctx context.Context, r *proto.AdminStartApp, stdio [3]int) (AppInfo, error) {
	js, err := a.roundTrip(ctx, r, stdio[:])
	if err != nil {
		return AppInfo{}, err
	}
	var out struct{ App AppInfo }
	if err := json.Unmarshal(js, &out); err != nil {
		return AppInfo{}, fmt.Errorf("decode start-app reply: %w", err)
	}
	return out.App, nil
}

// Logs returns an app's kept output lines numbered since or later, as many
// as fit one reply (LogsPage.More says more follow; ask since=Next).
func (a *AdminClient) Logs(ctx context.Context, name string, since uint64) (LogsPage, error) {
	var r LogsPage
	err := a.call(ctx, &proto.AdminRequest{Op: proto.AdminLogs, App: name, Since: since}, &r)
	return r, err
}

// ReloadResult is the reply of the reload operation: the services a reload
// started (new files), stopped (removed files), restarted (changed
// definitions) and left running as they were, by name.
type ReloadResult struct {
	Started   []string `json:"started"`
	Stopped   []string `json:"stopped"`
	Restarted []string `json:"restarted"`
	Unchanged []string `json:"unchanged"`
}

// Services lists every app and every configured service, running or not
// (State "stopped", "inactive" or "failed" for the ones not running).
func (a *AdminClient) Services(ctx context.Context) ([]AppInfo, error) {
	var r struct{ Services []AppInfo }
	err := a.call(ctx, &proto.AdminRequest{Op: proto.AdminServices}, &r)
	return r.Services, err
}

// Status describes one service in detail: its held sockets (Listen), its
// fd store (FDStore) and, when it has a cgroup, what the cgroup uses
// (Usage). An unknown name fails with the supervisor's unknown-app error.
func (a *AdminClient) Status(ctx context.Context, name string) (AppInfo, error) {
	return a.service(ctx, proto.AdminStatus, name)
}

// Start starts a configured service and returns its state once started
// (for readiness notify, possibly still "starting").
func (a *AdminClient) Start(ctx context.Context, name string) (AppInfo, error) {
	return a.service(ctx, proto.AdminStart, name)
}

// Stop stops a service, which stays configured, and returns its state once
// stopped.
func (a *AdminClient) Stop(ctx context.Context, name string) (AppInfo, error) {
	return a.service(ctx, proto.AdminStop, name)
}

// Restart stops a service, starts it again and returns its new state.
func (a *AdminClient) Restart(ctx context.Context, name string) (AppInfo, error) {
	return a.service(ctx, proto.AdminRestart, name)
}

// Reload has the supervisor read its service directory again, as SIGHUP
// does, and says what changed. A directory with a broken file fails with
// an Error listing every problem, and the running services stay as they
// were.
func (a *AdminClient) Reload(ctx context.Context) (ReloadResult, error) {
	var r ReloadResult
	err := a.call(ctx, &proto.AdminRequest{Op: proto.AdminReload}, &r)
	return r, err
}

// service runs op on the service name and returns the reply's service.
func (a *AdminClient) service(ctx context.Context, op, name string) (AppInfo, error) {
	var r struct{ Service AppInfo }
	err := a.call(ctx, &proto.AdminRequest{Op: op, App: name}, &r)
	return r.Service, err
}

// Upgrade replaces app name's program by exec under its live sessions
// (Supervisor.Upgrade); version names the compat vector to check against
// ("": the one the new program registers).
func (a *AdminClient) Upgrade(ctx context.Context, name, exec, version string) (UpgradeReport, error) {
	var r UpgradeReport
	err := a.call(ctx, &proto.AdminRequest{Op: proto.AdminUpgrade, App: name, Exec: exec, Version: version}, &r)
	return r, err
}
