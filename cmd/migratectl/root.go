package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/migrate-run/migrate/proto"
	"github.com/migrate-run/migrate/supervisor"
)

// --help lists the commands in the order command adds them: the services'
// from the most used on, then the sessions'.
func init() { cobra.EnableCommandSorting = false }

// cli is one run of migratectl: its global flags and where it writes.
type cli struct {
	stdout, stderr io.Writer
	socket         string
	stateDir       string
	json           bool
	timeout        time.Duration
	// started is set once the command line parsed and a command runs; an
	// error before that is a usage error.
	started bool
	// readStore is set when the answer came from the store, not a
	// supervisor.
	readStore bool
	now       func() time.Time
}

func newCLI(stdout, stderr io.Writer) *cli {
	return &cli{stdout: stdout, stderr: stderr, now: time.Now}
}

// command builds the command tree.
func (c *cli) command() *cobra.Command {
	root := &cobra.Command{
		Use:   "migratectl",
		Short: "Inspect and drive a migrate supervisor",
		Long: "migratectl talks to the supervisor of migrated or migrate-run over its control socket:\n" +
			"it lists, starts, stops and restarts services, reloads the service directory, and lists,\n" +
			"suspends and resumes sessions and their continuations.\n\n" +
			"Output is aligned text for people; --json prints the supervisor's reply document as it\n" +
			"is. Errors go to stderr; the exit status is 1 when the operation failed and 2 when the\n" +
			"command line is wrong. With no supervisor on --socket, list, show, sessions and stats\n" +
			"read the store in --state-dir, read-only.",
		Example: "  migratectl services\n" +
			"  migratectl status web\n" +
			"  migratectl restart web\n" +
			"  migratectl suspend 12 && migratectl resume 9\n" +
			"  source <(migratectl completion bash)",
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRun: func(*cobra.Command, []string) {
			c.started = true
		},
	}
	root.SetOut(c.stdout)
	root.SetErr(c.stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	pf := root.PersistentFlags()
	pf.StringVar(&c.socket, "socket", supervisor.DefaultSocket(), "the supervisor's control socket")
	pf.StringVar(&c.stateDir, "state-dir", supervisor.DefaultStateDir(),
		"the supervisor's state directory, read when no supervisor answers on --socket")
	pf.BoolVar(&c.json, "json", false, "print the supervisor's JSON reply as it is")
	pf.DurationVar(&c.timeout, "timeout", 30*time.Second, "give up on the supervisor after this long (0: wait forever)")
	root.AddGroup(&cobra.Group{ID: groupServices, Title: "Services:"},
		&cobra.Group{ID: groupSessions, Title: "Sessions and continuations:"})
	root.AddCommand(c.servicesCmd(), c.statusCmd(), c.startCmd(), c.stopCmd(), c.restartCmd(),
		c.reloadCmd(), c.upgradeCmd(), c.logsCmd(), c.appsCmd())
	root.AddCommand(c.sessionsCmd(), c.listCmd(), c.showCmd(), c.suspendCmd(),
		c.resumeCmd(), c.dropCmd(), c.gcCmd(), c.statsCmd())
	return root
}

// The groups of commands in --help.
const (
	groupServices = "services"
	groupSessions = "sessions"
)

// nameArg checks that the command has exactly one argument, a service name.
func nameArg(_ *cobra.Command, args []string) error {
	if len(args) != 1 {
		return usagef("expected one service name, got %d arguments", len(args))
	}
	if args[0] == "" {
		return usagef("the service name is empty")
	}
	return nil
}

// do sends one admin request and returns its JSON document; op and object
// name it in errors ("resume", "continuation 42").
func (c *cli) do(ctx context.Context, req *proto.AdminRequest, op, object string) ([]byte, error) {
	if c.timeout < 0 {
		return nil, usagef("--timeout %v is negative", c.timeout)
	}
	if c.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	ac, err := supervisor.Dial(c.socket)
	if err != nil {
		return nil, dialError(c.socket, err)
	}
	defer ac.Close()
	js, err := ac.Do(ctx, req)
	if err != nil {
		return nil, opError(op, object, c.timeout.String(), err)
	}
	return js, nil
}

// query runs req and either prints its document (--json) or decodes it
// into out and calls human.
func (c *cli) query(cmd *cobra.Command, req *proto.AdminRequest, op, object string, out any, human func() error) error {
	js, err := c.do(orBackground(cmd.Context()), req, op, object)
	if _, down := errors.AsType[noSupervisorError](err); down && readsStore(req.Op) {
		js, err = c.fromStore(req, op, object)
	}
	if err != nil {
		return err
	}
	if c.json {
		_, err := fmt.Fprintf(c.stdout, "%s\n", js)
		return err
	}
	if err := json.Unmarshal(js, out); err != nil {
		return fmt.Errorf("%s: read the supervisor's reply: %w", op, err)
	}
	return human()
}

// idArg checks that the command has exactly one argument, a positive
// decimal id of what (a "continuation", a "session").
func idArg(what string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) != 1 {
			return usagef("expected one %s id, got %d arguments", what, len(args))
		}
		if _, err := parseID(what, args[0]); err != nil {
			return err
		}
		return nil
	}
}

func parseID(what, s string) (uint64, error) {
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil || v == 0 {
		return 0, usagef("%q is not a %s id (a positive decimal number)", s, what)
	}
	return v, nil
}

// noArgs refuses positional arguments as a usage error.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usagef("%s takes no arguments, got %q", cmd.Name(), args)
	}
	return nil
}
