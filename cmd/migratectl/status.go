package main

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/migrate-run/migrate/proto"
	"github.com/migrate-run/migrate/supervisor"
)

func (c *cli) statusCmd() *cobra.Command {
	var lines int
	cmd := &cobra.Command{
		Use:     "status NAME",
		GroupID: groupServices,
		Short:   "Show one service: state, process, readiness, cgroup usage, sockets, last output",
		Long: "status prints one service as systemctl status does: a headline with its state and since\n" +
			"when, then its main process, restarts and restart policy, the STATUS= text it sent, whether\n" +
			"it is ready, its cgroup with the tasks, memory and CPU time it uses (and their limits), the\n" +
			"sockets the supervisor holds for it (with an accept socket's connections), the descriptors\n" +
			"in its fd store, its sessions and its service file; then its last output lines (-n), as\n" +
			"logs prints them. A line the supervisor has nothing for is left out. The headline's mark is\n" +
			"● while a process runs, × when the service failed and ○ otherwise.\n\n" +
			"--json prints the supervisor's status document alone (logs --json prints the output).",
		Example: "  migratectl status web\n" +
			"  migratectl status -n 0 web        # no output lines\n" +
			"  migratectl --json status web | jq .usage",
		Args: func(cmd *cobra.Command, args []string) error {
			if lines < 0 {
				return usagef("-n %d is negative", lines)
			}
			return nameArg(cmd, args)
		},
		ValidArgsFunction: c.completeServices,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := orBackground(cmd.Context())
			name := args[0]
			js, err := c.do(ctx, &proto.AdminRequest{Op: proto.AdminStatus, App: name}, "status of "+name, "service "+name)
			if err != nil {
				return err
			}
			if c.json {
				_, err := fmt.Fprintf(c.stdout, "%s\n", js)
				return err
			}
			var r struct{ Service supervisor.AppInfo }
			if err := json.Unmarshal(js, &r); err != nil {
				return fmt.Errorf("status of %s: read the supervisor's reply: %w", name, err)
			}
			sv := statusView{info: r.Service, now: c.now(), loc: time.Local}
			if lines > 0 {
				sv.logs = c.lastLines(ctx, name, lines)
			}
			return sv.print(c.stdout)
		},
	}
	cmd.Flags().IntVarP(&lines, "lines", "n", 10, "print the service's last N output lines (0: none)")
	return cmd
}

// lastLines returns the last n kept output lines of the service name, or
// none when the supervisor has none for it (its output is not captured,
// it is not running) or cannot say within --timeout: status prints what
// it has.
func (c *cli) lastLines(ctx context.Context, name string, n int) []supervisor.LogLine {
	ac, err := supervisor.Dial(c.socket)
	if err != nil {
		return nil
	}
	defer ac.Close()
	page, err := (&logsRun{cli: c, ac: ac, app: name}).kept(ctx)
	if err != nil {
		return nil
	}
	return page.Lines[max(len(page.Lines)-n, 0):]
}
