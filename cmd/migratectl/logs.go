package main

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/migrate-run/migrate/supervisor"
)

// logsPoll is how often logs -f asks for new lines: the admin API has no
// push, a follower polls with the cursor of its last reply.
const logsPoll = 200 * time.Millisecond

// logsTimeFormat is the TIME column of logs.
const logsTimeFormat = "2006-01-02T15:04:05.000Z07:00"

func (c *cli) logsCmd() *cobra.Command {
	var follow bool
	var tail int
	cmd := &cobra.Command{
		Use:     "logs NAME",
		GroupID: groupServices,
		Short:   "Print a service's captured output: TIME STREAM LINE",
		Long: "logs prints the lines a service (or an app migrate-run started through migrated) wrote to\n" +
			"its standard output and error, as far as the supervisor keeps them. -f keeps printing new\n" +
			"lines until the service is done (or stopped). --json prints the reply document, or with -f\n" +
			"one JSON line per output line.",
		Example: "  migratectl logs -n 20 web\n" +
			"  migratectl logs -f web",
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usagef("expected one app name, got %d arguments", len(args))
			}
			if tail < 0 {
				return usagef("-n %d is negative", tail)
			}
			return nil
		},
		ValidArgsFunction: c.completeServices,
		RunE: func(cmd *cobra.Command, args []string) error {
			if c.timeout < 0 {
				return usagef("--timeout %v is negative", c.timeout)
			}
			ac, err := supervisor.Dial(c.socket)
			if err != nil {
				return dialError(c.socket, err)
			}
			defer ac.Close()
			l := &logsRun{cli: c, ac: ac, app: args[0]}
			return l.run(orBackground(cmd.Context()), follow, tail)
		},
	}
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "keep printing new lines until the app is done")
	cmd.Flags().IntVarP(&tail, "lines", "n", 0, "print only the last N kept lines (0: all)")
	return cmd
}

// logsRun is one logs command against one supervisor connection.
type logsRun struct {
	*cli
	ac  *supervisor.AdminClient
	app string
}

func (l *logsRun) run(ctx context.Context, follow bool, tail int) error {
	page, err := l.kept(ctx)
	if err != nil {
		return err
	}
	if tail > 0 && len(page.Lines) > tail {
		page.Lines = page.Lines[len(page.Lines)-tail:]
	}
	if l.json && !follow {
		js, err := json.Marshal(page)
		if err != nil {
			return fmt.Errorf("logs %s: %w", l.app, err)
		}
		_, err = fmt.Fprintf(l.stdout, "%s\n", js)
		return err
	}
	if err := l.print(page.Lines); err != nil || !follow {
		return err
	}
	return l.follow(ctx, page)
}

// kept fetches every kept line, page by page.
func (l *logsRun) kept(ctx context.Context) (supervisor.LogsPage, error) {
	all, err := l.fetch(ctx, 0)
	for err == nil && all.More {
		var next supervisor.LogsPage
		next, err = l.fetch(ctx, all.Next)
		all.Lines = append(all.Lines, next.Lines...)
		all.Next, all.More, all.Done = next.Next, next.More, next.Done
	}
	return all, err
}

// follow polls from page's cursor until the app is done.
func (l *logsRun) follow(ctx context.Context, page supervisor.LogsPage) error {
	tick := time.NewTicker(logsPoll)
	defer tick.Stop()
	for !page.Done {
		if !page.More {
			select {
			case <-ctx.Done():
				return nil // interrupted: following ends here
			case <-tick.C:
			}
		}
		var err error
		if page, err = l.fetch(ctx, page.Next); err != nil {
			return err
		}
		if err := l.print(page.Lines); err != nil {
			return err
		}
	}
	return nil
}

// fetch asks for one page, within --timeout.
func (l *logsRun) fetch(ctx context.Context, since uint64) (supervisor.LogsPage, error) {
	if l.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, l.timeout)
		defer cancel()
	}
	page, err := l.ac.Logs(ctx, l.app, since)
	if err != nil {
		return page, opError("logs "+l.app, "service "+l.app, l.timeout.String(), err)
	}
	return page, nil
}

// print writes lines as TIME STREAM LINE, or as JSON lines with --json.
func (l *logsRun) print(lines []supervisor.LogLine) error {
	for _, line := range lines {
		var err error
		if l.json {
			var js []byte
			if js, err = json.Marshal(line); err == nil {
				_, err = fmt.Fprintf(l.stdout, "%s\n", js)
			}
		} else {
			_, err = fmt.Fprintf(l.stdout, "%s\n", logText(line, time.Local))
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// logText is a line as logs prints it: TIME STREAM LINE, the time in loc.
func logText(line supervisor.LogLine, loc *time.Location) string {
	return line.Time.In(loc).Format(logsTimeFormat) + " " + line.Stream + " " + line.Text
}
