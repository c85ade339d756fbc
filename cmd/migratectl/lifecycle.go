package main

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/migrate-run/migrate/proto"
	"github.com/migrate-run/migrate/supervisor"
)

// serviceOp is a command that acts on one service by name.
type serviceOp struct {
	op    string // proto.AdminStart, ...
	verb  string // "start": the command's name
	done  string // "started": what it prints
	short string
	long  string
	// mustRun says the service has to run afterwards: one that failed is
	// an error.
	mustRun bool
}

func (c *cli) startCmd() *cobra.Command {
	return c.serviceOpCmd(serviceOp{op: proto.AdminStart, verb: "start", done: "started", mustRun: true,
		short: "Start a configured service",
		long: "start starts a service of the service directory that is not running (stopped, failed,\n" +
			"exited, or never started) and prints its main process, adding \"not ready yet\" when the\n" +
			"supervisor answered before a readiness-notify service sent READY=1. A service that failed\n" +
			"to start, or exited at once with a result (exit-code, signal...), is an error (exit\n" +
			"status 1); status NAME tells why."})
}

func (c *cli) stopCmd() *cobra.Command {
	return c.serviceOpCmd(serviceOp{op: proto.AdminStop, verb: "stop", done: "stopped",
		short: "Stop a service; it stays configured",
		long: "stop sends the service's stop signal to its main process and, after its stop timeout,\n" +
			"kills whatever is left in its cgroup; it answers once the service stopped. The service\n" +
			"stays configured (start NAME starts it again) and is not restarted by its restart policy."})
}

func (c *cli) restartCmd() *cobra.Command {
	return c.serviceOpCmd(serviceOp{op: proto.AdminRestart, verb: "restart", done: "restarted", mustRun: true,
		short: "Stop a service and start it again",
		long: "restart stops the service as stop does, starts it again as start does, and prints its\n" +
			"new main process. The sockets the supervisor holds for it stay open in between. A service\n" +
			"that fails to start again is an error (exit status 1), as for start."})
}

func (c *cli) serviceOpCmd(o serviceOp) *cobra.Command {
	return &cobra.Command{
		Use:               o.verb + " NAME",
		GroupID:           groupServices,
		Short:             o.short,
		Long:              o.long + "\n\n--json prints the service's document after the operation.",
		Example:           "  migratectl " + o.verb + " web",
		Args:              nameArg,
		ValidArgsFunction: c.completeServices,
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			js, err := c.do(orBackground(cmd.Context()), &proto.AdminRequest{Op: o.op, App: name}, o.verb+" "+name, "service "+name)
			if err != nil {
				return err
			}
			if c.json {
				if _, err := fmt.Fprintf(c.stdout, "%s\n", js); err != nil {
					return err
				}
			}
			var r struct{ Service supervisor.AppInfo }
			if err := json.Unmarshal(js, &r); err != nil {
				return fmt.Errorf("%s %s: read the supervisor's reply: %w", o.verb, name, err)
			}
			a := r.Service
			if o.mustRun && failed(a) {
				return fmt.Errorf("%s %s: %s %s; migratectl status %s says more", o.verb, name, name, failedText(a), name)
			}
			if c.json {
				return nil
			}
			_, err = fmt.Fprintf(c.stdout, "%s %s%s\n", o.done, name, afterText(a, o.mustRun))
			return err
		},
	}
}

// afterText says where a service stands after an operation: " (pid 1234)"
// for a service that was to run and does, " (pid 1234, not ready yet)",
// and "; now STATE" when it is not where the operation leaves it.
func afterText(a supervisor.AppInfo, mustRun bool) string {
	switch {
	case mustRun && active(a) && a.Ready:
		return fmt.Sprintf(" (pid %d)", a.PID)
	case mustRun && active(a):
		return fmt.Sprintf(" (pid %d, not ready yet)", a.PID)
	case !mustRun && (a.State == "stopped" || a.State == "inactive"):
		return ""
	}
	return "; now " + stateText(a)
}

// failed reports whether a service failed: it is failed, or it exited
// for a reason (exited with no result is a clean exit).
func failed(a supervisor.AppInfo) bool {
	return a.State == "failed" || a.State == "exited" && a.Result != ""
}

// failedText is "failed (exit-code, exit 1)": the state, its result and
// how the main process ended.
func failedText(a supervisor.AppInfo) string {
	var why []string
	if a.Result != "" {
		why = append(why, a.Result)
	}
	if a.Exit != nil {
		why = append(why, exitText(a.Exit))
	}
	if len(why) == 0 {
		return a.State
	}
	return a.State + " (" + strings.Join(why, ", ") + ")"
}

func (c *cli) reloadCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "reload",
		GroupID: groupServices,
		Short:   "Read the service directory again and apply what changed",
		Long: "reload has the supervisor read its service directory again, as SIGHUP does, and prints\n" +
			"what it did: the services it started (new files), stopped (removed files), restarted\n" +
			"(changed definitions; a change of comments or layout is none) and left running as they\n" +
			"were. If any file is broken, nothing changes: the error lists every problem with its file\n" +
			"and line, and the exit status is 1.",
		Example: "  migratectl reload\n" +
			"  migratectl --json reload | jq -r '.restarted[]'",
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var r supervisor.ReloadResult
			return c.query(cmd, &proto.AdminRequest{Op: proto.AdminReload}, "reload", "", &r, func() error {
				return printReload(c.stdout, r)
			})
		},
	}
}

// printReload writes one line per kind of change, "nothing changed" first
// when no service was started, stopped or restarted.
func printReload(w io.Writer, r supervisor.ReloadResult) error {
	b := &block{w: w}
	if len(r.Started)+len(r.Stopped)+len(r.Restarted) == 0 {
		b.printf("nothing changed\n")
	}
	for _, kind := range []struct {
		what  string
		names []string
	}{{"started", r.Started}, {"stopped", r.Stopped}, {"restarted", r.Restarted}, {"unchanged", r.Unchanged}} {
		if len(kind.names) > 0 {
			b.printf("%-9s  %s\n", kind.what, strings.Join(slices.Sorted(slices.Values(kind.names)), ", "))
		}
	}
	return b.err
}
