package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/migrate-run/migrate/contstore"
	"github.com/migrate-run/migrate/proto"
	"github.com/migrate-run/migrate/supervisor"
)

func (c *cli) suspendCmd() *cobra.Command {
	var timing bool
	cmd := &cobra.Command{
		Use:     "suspend SESSION",
		GroupID: groupSessions,
		Short:   "Suspend a session (and the sessions that depend on it)",
		Long: "suspend asks the app to hand the session over as a continuation and waits until the\n" +
			"supervisor committed it. It prints the continuation ids, the session's first; --timing\n" +
			"adds how long the app took to hand the session over (app_suspend, request sent to\n" +
			"continuation committed), and within it the app's answer (app_return) and the store commit.",
		Example:           "  migratectl suspend 12\n  migratectl suspend --timing 12",
		Args:              idArg("session"),
		ValidArgsFunction: c.completeSessions,
		RunE: func(cmd *cobra.Command, args []string) error {
			id, _ := parseID("session", args[0])
			var r struct {
				Continuations []contstore.ID
				Stages        supervisor.StageTimes
			}
			object := "session " + args[0]
			return c.query(cmd, &proto.AdminRequest{Op: proto.AdminSuspend, Session: id}, "suspend "+object, object, &r, func() error {
				if len(r.Continuations) == 0 {
					return fmt.Errorf("suspend %s: the supervisor returned no continuation", object)
				}
				fmt.Fprintf(c.stdout, "session %s suspended: continuation %s\n", args[0], r.Continuations[0])
				if len(r.Continuations) > 1 {
					fmt.Fprintf(c.stdout, "dependent sessions suspended too: continuations %s\n", joinIDs(r.Continuations[1:]))
				}
				if timing {
					printStages(c.stdout, r.Stages)
				}
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&timing, "timing", false, "print how long each step took in the supervisor")
	return cmd
}

func (c *cli) resumeCmd() *cobra.Command {
	var timing bool
	cmd := &cobra.Command{
		Use:     "resume ID",
		GroupID: groupSessions,
		Short:   "Resume a continuation and wait until it runs",
		Long: "resume starts a fresh process for a complete continuation, or hands an internal one to\n" +
			"the running process that attached, and waits until the app confirmed. --timing adds\n" +
			"how long the fresh process took to start (launch) and then to confirm (notified), and\n" +
			"within notified its runtime's start until its first request (app_start), its requests\n" +
			"until Resumed (app_requests) and the store's commit of the resume (confirm_commit).",
		Example:           "  migratectl resume 9\n  migratectl resume --timing 9",
		Args:              idArg("continuation"),
		ValidArgsFunction: c.completeConts,
		RunE: func(cmd *cobra.Command, args []string) error {
			id, _ := parseID("continuation", args[0])
			var r struct {
				PID    int
				Stages supervisor.StageTimes
			}
			object := "continuation " + args[0]
			return c.query(cmd, &proto.AdminRequest{Op: proto.AdminResume, Cont: id}, "resume "+object, object, &r, func() error {
				if r.PID == 0 {
					fmt.Fprintf(c.stdout, "continuation %s resumed in a running process\n", args[0])
				} else {
					fmt.Fprintf(c.stdout, "continuation %s resumed in pid %d\n", args[0], r.PID)
				}
				if timing {
					printStages(c.stdout, r.Stages)
				}
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&timing, "timing", false, "print how long each step took in the supervisor")
	return cmd
}

// printStages prints the steps the supervisor timed as one line,
// "stages: app_suspend 1.234 ms, commit 0.456 ms", in the order they
// begin (a stage before the steps inside it), names it does not know left
// out; "stages: none measured" when the reply has none (an older
// supervisor, an internal resume).
func printStages(w io.Writer, st supervisor.StageTimes) {
	var parts []string
	for _, k := range []string{supervisor.StageAppSuspend, supervisor.StageAppReturn, supervisor.StageCommit,
		supervisor.StageLaunch, supervisor.StageNotified, supervisor.StageAppStart, supervisor.StageAppRequests,
		supervisor.StageConfirmCommit} {
		if d, ok := st[k]; ok {
			parts = append(parts, fmt.Sprintf("%s %.3f ms", k, float64(d)/float64(time.Millisecond)))
		}
	}
	if len(parts) == 0 {
		fmt.Fprintln(w, "stages: none measured")
		return
	}
	fmt.Fprintf(w, "stages: %s\n", strings.Join(parts, ", "))
}

func (c *cli) dropCmd() *cobra.Command {
	return &cobra.Command{
		Use:               "drop ID",
		GroupID:           groupSessions,
		Example:           "  migratectl drop 9",
		Short:             "Discard a suspended continuation and close what it holds",
		Args:              idArg("continuation"),
		ValidArgsFunction: c.completeConts,
		RunE: func(cmd *cobra.Command, args []string) error {
			id, _ := parseID("continuation", args[0])
			var r struct{}
			object := "continuation " + args[0]
			return c.query(cmd, &proto.AdminRequest{Op: proto.AdminDrop, Cont: id}, "drop "+object, object, &r, func() error {
				fmt.Fprintf(c.stdout, "continuation %s dropped\n", args[0])
				return nil
			})
		},
	}
}

func (c *cli) gcCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "gc",
		GroupID: groupSessions,
		Short:   "Expire the continuations that are due now",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var r struct{ Expired []contstore.ID }
			return c.query(cmd, &proto.AdminRequest{Op: proto.AdminGC}, "collect expired continuations", "", &r, func() error {
				if len(r.Expired) == 0 {
					fmt.Fprintln(c.stdout, "nothing expired")
					return nil
				}
				fmt.Fprintf(c.stdout, "expired %d continuation(s): %s\n", len(r.Expired), joinIDs(r.Expired))
				return nil
			})
		},
	}
}
