//go:build linux

// Command sdserver is a line echo server written against go-systemd alone
// (its activation and daemon packages), the way a service that knows
// nothing of migrate is written for systemd. It is what migrate's
// systemd-compatible service manager is tested against.
//
//	sdserver [--listen HOST:PORT] [--exit-after N] [--no-watchdog]
//
// It serves the stream sockets passed with LISTEN_FDS, or listens on
// --listen when none is passed. To each client it writes one line,
// "hello GENERATION PID", then echoes every line back in upper case until
// the client closes. GENERATION counts the starts of the service: it is
// kept in the service manager's file descriptor store, in a memfd named
// "state" (FDSTORE=1, FDNAME=state), and starts at 1 without a store.
//
// It tells the service manager READY=1 with STATUS=serving ADDR... once it
// listens, STATUS=N connections served as they end (at most one STATUS per
// 100 ms), WATCHDOG=1 at half of WATCHDOG_USEC, and STOPPING=1 when it
// stops. On SIGTERM or SIGINT it closes its listeners, lets open
// connections finish for up to 2 s, closes the rest and exits 0. With
// --exit-after N it stops the same way once N connections have ended, and
// exits 3.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"

	"golang.org/x/sys/unix"
)

const prog = "sdserver"

// Exit statuses.
const (
	exitStopped = 0 // stopped by SIGTERM or SIGINT
	exitFailed  = 1 // could not start: no socket, a bad passed descriptor, an unreadable state
	exitUsage   = 2 // bad flags
	exitServed  = 3 // --exit-after N connections served
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), unix.SIGTERM, unix.SIGINT)
	code := run(ctx, os.Args[1:], os.Stderr)
	stop()
	os.Exit(code)
}

// options are the command-line flags.
type options struct {
	listen     string // HOST:PORT to listen on when no socket is passed
	exitAfter  int    // stop after this many connections ended; 0: never
	noWatchdog bool   // never send WATCHDOG=1, even when WATCHDOG_USEC asks for it
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet(prog, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.listen, "listen", "", "listen on HOST:PORT when no socket is passed (LISTEN_FDS)")
	fs.IntVar(&o.exitAfter, "exit-after", 0, "exit with status 3 after serving `N` connections (0: never)")
	fs.BoolVar(&o.noWatchdog, "no-watchdog", false, "never send WATCHDOG=1")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, usageError(fs, "unexpected argument %q", fs.Arg(0))
	}
	if o.exitAfter < 0 {
		return o, usageError(fs, "--exit-after %d: want a count of connections, 0 or more", o.exitAfter)
	}
	return o, nil
}

func usageError(fs *flag.FlagSet, format string, a ...any) error {
	err := fmt.Errorf(format, a...)
	fmt.Fprintf(fs.Output(), "%s: %v\n", prog, err)
	fs.Usage()
	return err
}

// run starts the server and returns the exit status once it has stopped.
func run(ctx context.Context, args []string, stderr io.Writer) int {
	log := func(format string, a ...any) { fmt.Fprintf(stderr, prog+": "+format+"\n", a...) }
	opts, err := parseFlags(args, stderr)
	if err != nil {
		return exitUsage
	}
	n := notifier{log: log}
	lns, st, err := setUp(opts.listen, n, log)
	if err != nil {
		log("%v", err)
		return exitFailed
	}
	defer st.Close()
	cfg := config{
		generation:  st.generation,
		exitAfter:   int64(opts.exitAfter),
		grace:       defaultGrace,
		statusEvery: defaultStatusEvery,
	}
	if !opts.noWatchdog {
		cfg.watchdog = watchdogInterval(log)
	}
	err = newServer(cfg, n.send, log).serve(ctx, lns)
	if errors.Is(err, errServedEnough) {
		return exitServed
	}
	return exitStopped
}
