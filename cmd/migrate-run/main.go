// Command migrate-run runs one command under migrate supervision:
//
//	migrate-run [--name NAME] [--listen ADDR [--fdname NAME]]... [--accept [--max-connections N]]
//	            [--restart POLICY] [--notify] [--watchdog DUR] [--fdstore N] [--stop-signal SIG]
//	            [--state-dir DIR] [--socket PATH] [--cgroup-parent PARENT] -- CMD [ARG...]
//
// When a supervisor (migrated, or another migrate-run) answers on the
// socket, the command runs under it: migrate-run asks it to start the app
// with migrate-run's own standard streams, and waits. Otherwise migrate-run
// embeds a supervisor in the foreground, listening on the same socket (so
// migratectl reaches it the same way), with its store under the state
// directory and its apps' cgroups (as root) under the cgroup parent.
// A supervisor holds its cgroup parent for as long as it runs: a second
// embedded supervisor on the same parent (another --socket) refuses to
// start, naming the first one's pid, rather than disturb its app; give it
// another --cgroup-parent.
//
// Each --listen ADDR (tcp://HOST:PORT, udp://HOST:PORT, unix:PATH or
// unixpacket:PATH) is a socket the supervisor opens and holds across
// restarts of the command, passed to it from fd 3 up with LISTEN_FDS,
// LISTEN_PID and LISTEN_FDNAMES (--fdname names them), as systemd's socket
// activation does. With --accept the supervisor accepts instead and runs
// the command once per connection, the connection on its stdin and stdout
// (inetd style, systemd's Accept=yes), at most --max-connections at once.
// The command gets a NOTIFY_SOCKET: with --notify it is ready at READY=1;
// --watchdog, --fdstore and the other keys work as for a service file's
// service (docs/services.md). --restart on-failure or always restarts it
// when it exits, with a doubling delay, until --start-limit-burst starts
// within --start-limit-interval.
//
// migrate-run exits once the app is done: its main process has exited, no
// process of the app remains (a resumed per-connection child keeps it
// running), and none of its continuations is suspended. SIGINT (Ctrl-C) and
// SIGTERM stop the app (and the embedded supervisor) at once. The exit
// status is the app's main process's: its exit code, or 128+signal if a
// signal ended it.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/migrate-run/migrate/proto"
	"github.com/migrate-run/migrate/supervisor"
)

// exitError carries the app's exit status out of cobra.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("app exited with status %d", e.code) }

func main() {
	err := command().Execute()
	var ee exitError
	switch {
	case errors.As(err, &ee):
		os.Exit(ee.code)
	case err != nil:
		os.Exit(125) // migrate-run's own failure, as env(1) and nohup(1) report theirs
	}
}

type flags struct {
	name, socket, stateDir, cgroupParent string
	logFormat, logLevel                  string
	listen, fdnames                      []string
	noCgroups                            bool
	expiry                               time.Duration
	accept                               bool
	maxConnections                       int
	restart                              string
	restartDelay, restartMaxDelay        time.Duration
	startLimitBurst                      int
	startLimitInterval                   time.Duration
	notify                               bool
	startTimeout, watchdog, stopTimeout  time.Duration
	stopSignal                           string
	fdstore                              int
	fdstorePreserve                      bool
}

func command() *cobra.Command {
	var f flags
	cmd := &cobra.Command{
		Use:           "migrate-run [flags] -- CMD [ARG...]",
		Short:         "Run a command under migrate supervision",
		Args:          cobra.MinimumNArgs(1),
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			err := run(cmd.Context(), f, args)
			var ee exitError
			if err != nil && !errors.As(err, &ee) {
				fmt.Fprintln(os.Stderr, "migrate-run:", err)
			}
			return err
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&f.name, "name", "", "the app's name (default: the base name of CMD)")
	fs.StringArrayVar(&f.listen, "listen", nil, "a socket to open, hold and pass: tcp://HOST:PORT, udp://HOST:PORT, unix:PATH or unixpacket:PATH (repeatable)")
	fs.StringArrayVar(&f.fdnames, "fdname", nil, "LISTEN_FDNAMES entry of the --listen socket in the same position; NAME:NAME... names several (repeatable)")
	fs.BoolVar(&f.accept, "accept", false, "inetd style: accept on every --listen socket and run CMD once per connection, the connection on stdin and stdout")
	fs.IntVar(&f.maxConnections, "max-connections", supervisor.DefaultMaxConnections, "with --accept: connections served at once; more are closed")
	fs.StringVar(&f.restart, "restart", supervisor.RestartNo, "restart CMD when it exits: no, on-failure or always")
	fs.DurationVar(&f.restartDelay, "restart-delay", supervisor.DefaultRestartDelay, "delay of the first restart, doubled for each consecutive failure")
	fs.DurationVar(&f.restartMaxDelay, "restart-max-delay", supervisor.DefaultRestartMaxDelay, "cap of the doubled restart delay")
	fs.IntVar(&f.startLimitBurst, "start-limit-burst", supervisor.DefaultStartBurst, "give up after this many starts within --start-limit-interval")
	fs.DurationVar(&f.startLimitInterval, "start-limit-interval", supervisor.DefaultStartInterval, "window of the start limit; 0 disables it")
	fs.BoolVar(&f.notify, "notify", false, "CMD is ready when it sends READY=1 to NOTIFY_SOCKET, not when it is executed")
	fs.DurationVar(&f.startTimeout, "start-timeout", 0, "with --notify: time to READY=1 before CMD is stopped as failed (default 1m30s)")
	fs.DurationVar(&f.watchdog, "watchdog", 0, "CMD must send WATCHDOG=1 within this interval (passed as WATCHDOG_USEC), or it is aborted")
	fs.StringVar(&f.stopSignal, "stop-signal", "SIGTERM", "signal that asks CMD to stop")
	fs.DurationVar(&f.stopTimeout, "stop-timeout", 0, "time between the stop signal and SIGKILL (default: the supervisor's, 5s)")
	fs.IntVar(&f.fdstore, "fdstore", 0, "descriptors CMD may keep across its restarts with FDSTORE=1")
	fs.BoolVar(&f.fdstorePreserve, "fdstore-preserve", false, "keep the fd store when CMD is stopped")
	fs.StringVar(&f.socket, "socket", supervisor.DefaultSocket(), "control socket of the supervisor")
	fs.StringVar(&f.stateDir, "state-dir", supervisor.DefaultStateDir(), "store directory of an embedded supervisor")
	fs.StringVar(&f.cgroupParent, "cgroup-parent", "", `parent cgroup of an embedded supervisor's apps (default "migrate")`)
	fs.BoolVar(&f.noCgroups, "no-cgroups", false, "an embedded supervisor runs the app without cgroups")
	fs.DurationVar(&f.expiry, "expiry", 0, "the app's default continuation lifetime (default: the supervisor's)")
	fs.StringVar(&f.logFormat, "log-format", "", "json or console (default: console on a terminal, json otherwise)")
	fs.StringVar(&f.logLevel, "log-level", "warn", "debug, info, warn or error")
	return cmd
}

func run(ctx context.Context, f flags, args []string) error {
	if ctx == nil {
		ctx = context.Background()
	}
	if f.name == "" {
		f.name = filepath.Base(args[0])
	}
	cwd, err := os.Getwd()
	if err != nil {
		return err
	}
	opts, err := f.options()
	if err != nil {
		return err
	}
	optJSON, err := json.Marshal(opts)
	if err != nil {
		return err
	}
	start := &proto.AdminStartApp{Name: f.name, Args: args, Env: os.Environ(), Cwd: cwd,
		ExpirySec: uint32(f.expiry / time.Second), Options: optJSON}
	sigCtx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if ac, err := supervisor.Dial(f.socket); err == nil {
		defer ac.Close()
		if _, err := ac.Stats(ctx); err != nil {
			return fmt.Errorf("a supervisor answers on %s but refuses us: %w", f.socket, err)
		}
		return runRemote(sigCtx, f.socket, ac, start)
	}
	return runEmbedded(sigCtx, f, start, opts)
}

// options turns the service flags into the start options.
func (f flags) options() (*supervisor.StartOptions, error) {
	var names []string
	for _, n := range f.fdnames {
		names = append(names, strings.Split(n, ":")...)
	}
	if len(names) > len(f.listen) {
		return nil, fmt.Errorf("%d --fdname names for %d --listen sockets", len(names), len(f.listen))
	}
	o := &supervisor.StartOptions{StopTimeout: f.stopTimeout, StartTimeout: f.startTimeout, Watchdog: f.watchdog,
		FDStoreMax: f.fdstore, FDStorePreserve: f.fdstorePreserve}
	for i, addr := range f.listen {
		l := supervisor.ListenSpec{Address: addr, Accept: f.accept}
		if i < len(names) {
			l.Name = names[i]
		}
		if f.accept {
			l.MaxConnections = f.maxConnections
		}
		o.Listen = append(o.Listen, l)
	}
	if f.accept && len(f.listen) == 0 {
		return nil, errors.New("--accept needs a --listen socket")
	}
	if f.notify {
		o.Readiness = supervisor.ReadyNotify
	}
	if f.restart != supervisor.RestartNo {
		r := supervisor.RestartPolicy{Policy: f.restart, Delay: f.restartDelay, MaxDelay: max(f.restartMaxDelay, f.restartDelay),
			Burst: f.startLimitBurst, Interval: f.startLimitInterval}
		o.Restart = &r
	}
	sig, err := supervisor.ParseSignal(f.stopSignal)
	if err != nil {
		return nil, fmt.Errorf("--stop-signal: %w", err)
	}
	o.StopSignal = int(sig)
	return o, nil
}

// runRemote runs the app under the supervisor that answers on socket.
func runRemote(ctx context.Context, socket string, ac *supervisor.AdminClient, start *proto.AdminStartApp) error {
	if _, err := ac.StartApp(ctx, start, [3]int{0, 1, 2}); err != nil {
		return fmt.Errorf("start %s: %w", start.Name, err)
	}
	waiter, err := supervisor.Dial(socket)
	if err != nil {
		return err
	}
	defer waiter.Close()
	if _, err := waiter.WaitApp(ctx, start.Name); err != nil && ctx.Err() == nil {
		return fmt.Errorf("wait for %s: %w", start.Name, err)
	}
	// Done, or interrupted: either way the app leaves the supervisor, which
	// frees its name and cgroup and reports its exit.
	info, err := ac.StopApp(context.Background(), start.Name)
	if err != nil {
		return fmt.Errorf("stop %s: %w", start.Name, err)
	}
	return exitOf(info)
}

// runEmbedded runs a supervisor in the foreground for the app.
func runEmbedded(ctx context.Context, f flags, start *proto.AdminStartApp, opts *supervisor.StartOptions) error {
	log, err := supervisor.NewLogger(os.Stderr, f.logFormat, f.logLevel)
	if err != nil {
		return err
	}
	s, err := supervisor.New(supervisor.Config{Socket: f.socket, StateDir: f.stateDir, CgroupParent: f.cgroupParent,
		NoCgroups: f.noCgroups, Log: log})
	if errors.Is(err, supervisor.ErrParentInUse) {
		return fmt.Errorf("%w; run this one with another --cgroup-parent", err)
	}
	if err != nil {
		return err
	}
	runCtx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- s.Run(runCtx) }()
	select {
	case <-s.Running():
	case err := <-ran:
		cancel()
		return err
	}
	spec := supervisor.AppSpec{Name: start.Name, Args: start.Args, Env: start.Env, Cwd: start.Cwd,
		Stdio: [3]int{0, 1, 2}, Expiry: time.Duration(start.ExpirySec) * time.Second}
	var a *supervisor.App
	if err = opts.Apply(&spec); err == nil {
		a, err = s.StartApp(spec)
	}
	if err == nil {
		select {
		case <-a.Done():
		case <-ctx.Done():
		}
	}
	cancel() // stops the app if it still runs, then the supervisor
	if rerr := <-ran; rerr != nil && err == nil {
		err = rerr
	}
	if err != nil {
		return err
	}
	return exitOf(s.Info(a))
}

// exitOf turns the app's final state into migrate-run's exit.
func exitOf(info supervisor.AppInfo) error {
	if info.Exit == nil && len(info.Listen) > 0 && info.Listen[0].Accept {
		return nil // an accept service has no main process: stopped is its end
	}
	if info.Exit == nil {
		return exitError{code: 128 + int(syscall.SIGKILL)}
	}
	if info.Exit.Code != 0 {
		return exitError{code: info.Exit.Code}
	}
	return nil
}
