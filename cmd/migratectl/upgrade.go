package main

import (
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/migrate-run/migrate/proto"
	"github.com/migrate-run/migrate/supervisor"
)

func (c *cli) upgradeCmd() *cobra.Command {
	var exec, version string
	cmd := &cobra.Command{
		Use:     "upgrade APP --exec PATH [--version V]",
		GroupID: groupServices,
		Short:   "Replace an app's program under its live sessions",
		Long: "upgrade suspends every live session of APP, starts its main process again from PATH (the\n" +
			"sockets the supervisor holds stay open, so new connections wait instead of being refused),\n" +
			"checks the continuations' compat tags against the new version's vector (--version, or the\n" +
			"one the new program registers), and resumes each session under PATH: a fresh process for\n" +
			"a complete continuation, the new main process's attach handler for an internal one. A\n" +
			"session whose fresh process fails under PATH is resumed under the old program and\n" +
			"reported. A compat mismatch aborts the upgrade, naming the tag, with everything back under\n" +
			"the old program (exit status 1); so does a PATH that is no executable file.",
		Example: "  migratectl upgrade counter --exec /usr/local/bin/counter-server-2.0\n" +
			"  migratectl upgrade web --exec /opt/web/v3/web --version 3.0",
		Args:              nameArg,
		ValidArgsFunction: c.completeServices,
		RunE: func(cmd *cobra.Command, args []string) error {
			if exec == "" {
				return usagef("--exec PATH is required")
			}
			abs, err := filepath.Abs(exec)
			if err != nil {
				return usagef("--exec %q: %v", exec, err)
			}
			req := &proto.AdminRequest{Op: proto.AdminUpgrade, App: args[0], Exec: abs, Version: version}
			js, err := c.do(orBackground(cmd.Context()), req, "upgrade "+args[0], "service "+args[0])
			if err != nil {
				return err
			}
			var r supervisor.UpgradeReport
			if err := json.Unmarshal(js, &r); err != nil {
				return fmt.Errorf("upgrade %s: read the supervisor's reply: %w", args[0], err)
			}
			if c.json {
				if _, err := fmt.Fprintf(c.stdout, "%s\n", js); err != nil {
					return err
				}
			} else if err := printUpgrade(c.stdout, r); err != nil {
				return err
			}
			if r.Failed > 0 || r.FellBack > 0 { // the same exit status with --json
				return fmt.Errorf("upgrade %s: %d sessions not under the new program", r.App, r.Failed+r.FellBack)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&exec, "exec", "", "the new program (made absolute)")
	cmd.Flags().StringVar(&version, "version", "", "the version whose compat vector the sessions must match (default: the one the new program registers)")
	return cmd
}

// printUpgrade says what an upgrade did: a line for the app, one per
// session, a summary.
func printUpgrade(w io.Writer, r supervisor.UpgradeReport) error {
	b := &block{w: w}
	b.printf("upgraded %s: %s -> %s", r.App, r.Previous, r.Exec)
	if r.OldPID != 0 {
		b.printf(" (main process %d -> %d)", r.OldPID, r.NewPID)
	}
	b.printf("\n")
	if r.Version != "" {
		b.printf("compat: every continuation matches version %s\n", r.Version)
	} else {
		b.printf("compat: not checked (no vector for the new version)\n")
	}
	if len(r.Sessions) > 0 {
		t := newTable(w, "SESSION", "CONT", "KIND", "PID", "PROGRAM", "ERROR")
		for _, s := range r.Sessions {
			t.row(s.Session.String(), s.Cont.String(), string(s.Kind), num(s.PID), s.Binary, s.Error)
		}
		if err := t.flush(); err != nil {
			return err
		}
	}
	b.printf("%d sessions upgraded, %d resumed under the old program, %d not upgraded, in %v\n",
		r.Upgraded, r.FellBack, r.Failed, r.Took.Round(time.Millisecond))
	return b.err
}
