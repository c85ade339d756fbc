package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/migrate-run/migrate/contstore"
	"github.com/migrate-run/migrate/proto"
)

func (c *cli) suspendCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "suspend SESSION",
		GroupID: groupSessions,
		Short:   "Suspend a session (and the sessions that depend on it)",
		Long: "suspend asks the app to hand the session over as a continuation and waits until the\n" +
			"supervisor committed it. It prints the continuation ids, the session's first.",
		Example:           "  migratectl suspend 12",
		Args:              idArg("session"),
		ValidArgsFunction: c.completeSessions,
		RunE: func(cmd *cobra.Command, args []string) error {
			id, _ := parseID("session", args[0])
			var r struct{ Continuations []contstore.ID }
			object := "session " + args[0]
			return c.query(cmd, &proto.AdminRequest{Op: proto.AdminSuspend, Session: id}, "suspend "+object, object, &r, func() error {
				if len(r.Continuations) == 0 {
					return fmt.Errorf("suspend %s: the supervisor returned no continuation", object)
				}
				fmt.Fprintf(c.stdout, "session %s suspended: continuation %s\n", args[0], r.Continuations[0])
				if len(r.Continuations) > 1 {
					fmt.Fprintf(c.stdout, "dependent sessions suspended too: continuations %s\n", joinIDs(r.Continuations[1:]))
				}
				return nil
			})
		},
	}
}

func (c *cli) resumeCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "resume ID",
		GroupID: groupSessions,
		Short:   "Resume a continuation and wait until it runs",
		Long: "resume starts a fresh process for a complete continuation, or hands an internal one to\n" +
			"the running process that attached, and waits until the app confirmed.",
		Example:           "  migratectl resume 9",
		Args:              idArg("continuation"),
		ValidArgsFunction: c.completeConts,
		RunE: func(cmd *cobra.Command, args []string) error {
			id, _ := parseID("continuation", args[0])
			var r struct{ PID int }
			object := "continuation " + args[0]
			return c.query(cmd, &proto.AdminRequest{Op: proto.AdminResume, Cont: id}, "resume "+object, object, &r, func() error {
				if r.PID == 0 {
					fmt.Fprintf(c.stdout, "continuation %s resumed in a running process\n", args[0])
					return nil
				}
				fmt.Fprintf(c.stdout, "continuation %s resumed in pid %d\n", args[0], r.PID)
				return nil
			})
		},
	}
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
