// Command migrate-run runs one command under migrate supervision:
//
//	migrate-run [--name NAME] [--listen ADDR]... [--state-dir DIR] [--socket PATH] [--cgroup-parent PARENT] -- CMD [ARG...]
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
// Each --listen ADDR (tcp://HOST:PORT or unix:PATH) is a listening socket
// the supervisor opens and holds, passed to the app from fd 3 up with
// LISTEN_FDS, LISTEN_PID and LISTEN_FDNAMES.
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
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
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
	listen                               []string
	noCgroups                            bool
	expiry                               time.Duration
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
	fs.StringArrayVar(&f.listen, "listen", nil, "a listening socket to hold and pass, tcp://HOST:PORT or unix:PATH (repeatable)")
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
	start := &proto.AdminStartApp{Name: f.name, Args: args, Env: os.Environ(), Cwd: cwd, Listen: f.listen,
		ExpirySec: uint32(f.expiry / time.Second)}
	sigCtx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if ac, err := supervisor.Dial(f.socket); err == nil {
		defer ac.Close()
		if _, err := ac.Stats(ctx); err != nil {
			return fmt.Errorf("a supervisor answers on %s but refuses us: %w", f.socket, err)
		}
		return runRemote(sigCtx, f.socket, ac, start)
	}
	return runEmbedded(sigCtx, f, start)
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
func runEmbedded(ctx context.Context, f flags, start *proto.AdminStartApp) error {
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
	a, err := s.StartApp(supervisor.AppSpec{Name: start.Name, Args: start.Args, Env: start.Env, Cwd: start.Cwd,
		Listen: start.Listen, Stdio: [3]int{0, 1, 2}, Expiry: time.Duration(start.ExpirySec) * time.Second})
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
	if info.Exit == nil {
		return exitError{code: 128 + int(syscall.SIGKILL)}
	}
	if info.Exit.Code != 0 {
		return exitError{code: info.Exit.Code}
	}
	return nil
}
