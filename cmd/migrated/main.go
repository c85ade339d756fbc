// Command migrated is the migrate daemon: it runs apps, holds their
// suspended sessions and resumes them (see package supervisor). With
// --config DIR it is a service manager: it starts the services of DIR's
// service files (docs/services.md) in dependency order, restarts them per
// their policy, and on SIGHUP (or migratectl reload) reads DIR again,
// stopping removed services, restarting changed ones and starting new ones;
// a broken directory is reported and changes nothing (at start, migrated
// refuses to run). It serves the control socket until SIGTERM or SIGINT,
// then stops its apps, closes the store and exits 0. It holds its cgroup parent (--cgroup-parent) while
// it runs: a second supervisor on the same parent refuses to start.
// --cpuprofile FILE profiles the daemon's CPU over its whole run (pprof),
// written when it exits cleanly: `go tool pprof -top migrated FILE`.
// --memprofile FILE writes a heap profile (after a GC) to FILE each time
// the daemon gets SIGUSR1: `go tool pprof -sample_index=inuse_space FILE`.
// --gc-percent N sets the garbage collector's target percentage (Go's
// GOGC, default 100); GOGC in the environment wins.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/rs/zerolog"
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
	config                         string
	noCgroups                      bool
	logFormat, logLevel            string
	defaultExpiry, maxExpiry       time.Duration
	suspendTimeout, stopTimeout    time.Duration
	resumeTimeout                  time.Duration
	cpuProfile                     string
	memProfile                     string
	gcPercent                      int
	gcPercentSet                   bool // --gc-percent given
}

func command() *cobra.Command {
	var f flags
	cmd := &cobra.Command{
		Use:           "migrated",
		Short:         "Run apps and hold their suspended sessions",
		Args:          cobra.NoArgs,
		SilenceUsage:  true,
		SilenceErrors: false,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f.gcPercentSet = cmd.Flags().Changed("gc-percent")
			return run(cmd.Context(), f)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&f.socket, "socket", supervisor.DefaultSocket(), "control socket path")
	fs.StringVarP(&f.config, "config", "c", "", "directory of service files (*.toml) to run; SIGHUP reads it again")
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
	fs.StringVar(&f.cpuProfile, "cpuprofile", "", "write a CPU profile (pprof) of the whole run to this file, at a clean exit")
	fs.StringVar(&f.memProfile, "memprofile", "", "write a heap profile (pprof) to this file on each SIGUSR1")
	fs.IntVar(&f.gcPercent, "gc-percent", defaultGCPercent, "garbage collector target percentage (Go's GOGC; GOGC in the environment wins)")
	return cmd
}

func run(ctx context.Context, f flags) error {
	log, err := supervisor.NewLogger(os.Stderr, f.logFormat, f.logLevel)
	if err != nil {
		return err
	}
	if err := checkConfig(f.config); err != nil {
		return err
	}
	applyGCPercent(f.gcPercent, f.gcPercentSet, log)
	if f.cpuProfile != "" {
		stop, err := startCPUProfile(f.cpuProfile)
		if err != nil {
			return err
		}
		defer stop(log)
	}
	if f.memProfile != "" {
		defer heapProfileOnSignal(f.memProfile, log)()
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
	ready := make(chan struct{})
	notified := make(chan struct{})
	go func() { notifyManager(ctx, s, ready, log); close(notified) }()
	defer func() { stop(); <-notified }()
	served := make(chan struct{})
	go func() {
		defer close(served)
		manage(ctx, s, f.config, ready, log)
	}()
	defer func() { <-served }()
	if err := s.Run(ctx); err != nil {
		stop()
		if errors.Is(err, supervisor.ErrRunning) {
			return fmt.Errorf("another migrated serves %s: %w", f.socket, err)
		}
		return err
	}
	return nil
}

// manage starts the configured services once the supervisor runs, closes
// ready, and reloads on SIGHUP until ctx ends.
func manage(ctx context.Context, s *supervisor.Supervisor, dir string, ready chan<- struct{}, log zerolog.Logger) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	select {
	case <-s.Running():
	case <-ctx.Done():
		return
	}
	if dir != "" {
		if err := s.ConfigureServices(dir); err != nil {
			log.Error().Err(err).Str("dir", dir).Msg("services not started")
		}
	}
	close(ready)
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			if dir == "" {
				log.Warn().Msg("SIGHUP ignored: no --config directory")
				continue
			}
			reloading(log, false)
			if _, err := s.Reload(); err != nil {
				log.Error().Err(err).Msg("reload failed, services unchanged")
			}
			reloading(log, true)
		}
	}
}

// checkConfig refuses a broken service directory before the daemon starts.
func checkConfig(dir string) error {
	if dir == "" {
		return nil
	}
	svcs, err := supervisor.LoadServices(dir)
	if err == nil {
		_, err = supervisor.StartOrder(svcs)
	}
	if err != nil {
		return fmt.Errorf("service directory %s:\n%w", dir, err)
	}
	return nil
}

func orBackground(ctx context.Context) context.Context {
	if ctx == nil {
		return context.Background()
	}
	return ctx
}

// startCPUProfile starts profiling the CPU into path; the returned function
// stops and writes the profile.
func startCPUProfile(path string) (func(zerolog.Logger), error) {
	out, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	if err := pprof.StartCPUProfile(out); err != nil {
		out.Close()
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	return func(log zerolog.Logger) {
		pprof.StopCPUProfile()
		if err := out.Close(); err != nil {
			log.Error().Err(err).Str("file", path).Msg("cpu profile not written")
			return
		}
		log.Info().Str("file", path).Msg("cpu profile written")
	}, nil
}
