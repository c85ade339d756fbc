package main

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
	"unicode"

	"github.com/spf13/cobra"

	"github.com/migrate-run/migrate/proto"
	"github.com/migrate-run/migrate/supervisor"
)

// statusCellMax bounds the STATUS column of services, in runes; status
// shows the whole text.
const statusCellMax = 40

func (c *cli) servicesCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "services",
		GroupID: groupServices,
		Short:   "List the services: the configured ones and every app",
		Long: "services lists every service the supervisor knows, one row each, sorted by name: the\n" +
			"services of its service directory, running or not, and the apps migrate-run started.\n\n" +
			"STATE is the service's state, with why it failed or exited in parentheses:\n" +
			"  states   inactive, starting, running, reloading, stopping, restarting, exited, failed, stopped\n" +
			"  results  exit-code, signal, watchdog, timeout, start-limit, spawn\n" +
			"PID and UPTIME are its main process's while one runs. RESTARTS counts the automatic\n" +
			"restarts since an operator or the daemon last started it. READY says whether it is ready\n" +
			"(once executed, or once it sent READY=1 with readiness notify). STATUS is the last STATUS=\n" +
			"it sent, cut to 40 characters (status NAME prints it whole). LISTEN lists the sockets the\n" +
			"supervisor holds for it.",
		Example: "  migratectl services\n" +
			"  migratectl --json services | jq -r '.services[] | select(.state == \"failed\") | .name'",
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var r struct{ Services []supervisor.AppInfo }
			return c.query(cmd, &proto.AdminRequest{Op: proto.AdminServices}, "list services", "", &r, func() error {
				return printServices(c.stdout, r.Services, c.now())
			})
		},
	}
}

// printServices writes the services table, sorted by name.
func printServices(w io.Writer, list []supervisor.AppInfo, now time.Time) error {
	sort.Slice(list, func(i, j int) bool { return list[i].Name < list[j].Name })
	t := newTable(w, "NAME", "STATE", "PID", "UPTIME", "RESTARTS", "READY", "STATUS", "LISTEN")
	for _, a := range list {
		pid, up, ready := "", "", ""
		if active(a) {
			pid, up, ready = num(a.PID), uptime(a, now), yesNo(a.Ready)
		}
		t.row(a.Name, stateText(a), pid, up, fmt.Sprint(a.Restarts), ready,
			cut(oneLine(a.StatusText), statusCellMax), listenText(a.Listen))
	}
	return t.flush()
}

// stateText is the state with the result that explains it: "running",
// "failed (start-limit)".
func stateText(a supervisor.AppInfo) string {
	if a.Result == "" {
		return a.State
	}
	return a.State + " (" + a.Result + ")"
}

// active reports whether a's main process runs: it has one, and its state
// is one a process runs in.
func active(a supervisor.AppInfo) bool {
	switch a.State {
	case "starting", "running", "reloading", "stopping":
		return a.PID != 0
	}
	return false
}

// uptime is how long a's main process has run, "" when unknown.
func uptime(a supervisor.AppInfo, now time.Time) string {
	if a.Started.IsZero() {
		return ""
	}
	return span(now.Sub(a.Started))
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// oneLine is s with each run of spaces and control characters made one
// space, so that a service's own text cannot break a table's layout.
func oneLine(s string) string {
	return strings.Join(strings.FieldsFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }), " ")
}

// cut is s cut to n runes, the last one "…" when something was cut.
func cut(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
