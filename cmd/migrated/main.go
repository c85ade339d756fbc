// Command migrated is the migrate daemon: it runs apps, holds their
// suspended sessions and resumes them (see package supervisor). It serves
// the control socket until SIGTERM or SIGINT, then stops its apps, closes
// the store and exits 0. It holds its cgroup parent (--cgroup-parent) while
// it runs: a second supervisor on the same parent refuses to start.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/migrate-run/migrate/supervisor"
)

func main() {
	if err := command().Execute(); err != nil {
		os.Exit(1)
	}
}

// flags are migrated's options.
type flags struct {
	socket, stateDir, cgroupParent string
	noCgroups                      bool
	logFormat, logLevel            string
	defaultExpiry, maxExpiry       time.Duration
	suspendTimeout, stopTimeout    time.Duration
	resumeTimeout                  time.Duration
}

func command() *cobra.Command {
	var f flags
	cmd := &cobra.Command{
		Use:           "migrated",
		Short:         "Run apps and hold their suspended sessions",
		Args:          cobra.NoArgs,
		SilenceUsage:  true,
		SilenceErrors: false,
		RunE:          func(cmd *cobra.Command, _ []string) error { return run(cmd.Context(), f) },
	}
	fs := cmd.Flags()
	fs.StringVar(&f.socket, "socket", supervisor.DefaultSocket(), "control socket path")
	fs.StringVar(&f.stateDir, "state-dir", supervisor.DefaultStateDir(), "directory of the continuation store ("+supervisor.StoreFile+")")
	fs.StringVar(&f.cgroupParent, "cgroup-parent", "", `parent cgroup of the apps' cgroups (default "migrate")`)
	fs.BoolVar(&f.noCgroups, "no-cgroups", false, "run apps without cgroups")
	fs.StringVar(&f.logFormat, "log-format", "", "json or console (default: console on a terminal, json otherwise)")
	fs.StringVar(&f.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.DurationVar(&f.defaultExpiry, "default-expiry", supervisor.DefaultExpiry, "lifetime of a continuation that asks none")
	fs.DurationVar(&f.maxExpiry, "max-expiry", supervisor.DefaultMaxExpiry, "longest lifetime of any continuation")
	fs.DurationVar(&f.suspendTimeout, "suspend-timeout", supervisor.DefaultSuspendTimeout, "how long an app has to answer a suspend request")
	fs.DurationVar(&f.resumeTimeout, "resume-timeout", supervisor.DefaultResumeTimeout, "how long a fresh process has to confirm its resume")
	fs.DurationVar(&f.stopTimeout, "stop-timeout", supervisor.DefaultStopTimeout, "how long a stopping app has between SIGTERM and SIGKILL")
	return cmd
}

func run(ctx context.Context, f flags) error {
	log, err := supervisor.NewLogger(os.Stderr, f.logFormat, f.logLevel)
	if err != nil {
		return err
	}
	s, err := supervisor.New(supervisor.Config{Socket: f.socket, StateDir: f.stateDir, CgroupParent: f.cgroupParent,
		NoCgroups: f.noCgroups, SuspendTimeout: f.suspendTimeout, DefaultExpiry: f.defaultExpiry,
		MaxExpiry: f.maxExpiry, StopTimeout: f.stopTimeout, ResumeTimeout: f.resumeTimeout, Log: log})
	if errors.Is(err, supervisor.ErrParentInUse) {
		return fmt.Errorf("start supervisor: %w; run this one with another --cgroup-parent", err)
	}
	if err != nil {
		return fmt.Errorf("start supervisor: %w", err)
	}
	ctx, stop := signal.NotifyContext(orBackground(ctx), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	notified := make(chan struct{})
	go func() { notifyManager(ctx, s, log); close(notified) }()
	defer func() { stop(); <-notified }()
	if err := s.Run(ctx); err != nil {
		if errors.Is(err, supervisor.ErrRunning) {
			return fmt.Errorf("another migrated serves %s: %w", f.socket, err)
		}
		return err
	}
	return nil
}

func orBackground(ctx context.Context) context.Context {
	if ctx == nil {
		return context.Background()
	}
	return ctx
}
