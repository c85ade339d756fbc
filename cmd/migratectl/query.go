package main

import (
	"fmt"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/migrate-run/migrate/contstore"
	"github.com/migrate-run/migrate/proto"
	"github.com/migrate-run/migrate/supervisor"
)

func (c *cli) appsCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "apps",
		GroupID: groupServices,
		Short:   "List the running apps and their processes",
		Long: "apps lists the apps the supervisor runs now with all their processes and cgroups; it is\n" +
			"the older, narrower view (services also lists the configured services that are not\n" +
			"running, with their readiness and restarts). It stays for the scripts that read it.",
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var r struct{ Apps []supervisor.AppInfo }
			return c.query(cmd, &proto.AdminRequest{Op: proto.AdminApps}, "list apps", "", &r, func() error {
				sort.Slice(r.Apps, func(i, j int) bool { return r.Apps[i].Name < r.Apps[j].Name })
				t := newTable(c.stdout, "NAME", "STATE", "PID", "PROCESSES", "SESSIONS", "SUSPENDED", "LISTEN", "CGROUP")
				for _, a := range r.Apps {
					state := a.State
					if a.Exit != nil {
						state = fmt.Sprintf("%s (%s)", a.State, exitText(a.Exit))
					}
					t.row(a.Name, state, num(a.PID), joinInts(a.Processes), fmt.Sprint(a.Sessions),
						fmt.Sprint(a.Suspended), listenText(a.Listen), a.Cgroup)
				}
				return t.flush()
			})
		},
	}
}

// exitText is "exit 0" or "killed by SIGKILL".
func exitText(e *supervisor.ExitStatus) string {
	if e.Signal != "" {
		return "killed by " + e.Signal
	}
	return fmt.Sprintf("exit %d", e.Code)
}

func (c *cli) sessionsCmd() *cobra.Command {
	var app string
	cmd := &cobra.Command{
		Use:     "sessions [--app A]",
		GroupID: groupSessions,
		Short:   "List live sessions",
		Example: "  migratectl sessions --app web",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var r struct{ Sessions []supervisor.SessionInfo }
			return c.query(cmd, &proto.AdminRequest{Op: proto.AdminSessions, App: app}, "list sessions", "", &r, func() error {
				sort.Slice(r.Sessions, func(i, j int) bool { return r.Sessions[i].ID < r.Sessions[j].ID })
				t := newTable(c.stdout, "ID", "APP", "NAME", "STATE", "PID", "HANDLER", "DEPENDS-ON", "CONT", "CONNECTION")
				for _, s := range r.Sessions {
					t.row(s.ID.String(), s.App, s.Name, s.State, num(s.PID), s.Handler, joinIDs(s.DependsOn),
						num(s.Cont), endpoints(s.Conn))
				}
				return t.flush()
			})
		},
	}
	cmd.Flags().StringVar(&app, "app", "", "only this app's sessions")
	return cmd
}

func (c *cli) listCmd() *cobra.Command {
	var app, state string
	cmd := &cobra.Command{
		Use:     "list [--app A] [--state S]",
		GroupID: groupSessions,
		Short:   "List stored continuations",
		Example: "  migratectl list --state suspended",
		Args: func(cmd *cobra.Command, args []string) error {
			if state != "" && !contstore.State(state).Valid() {
				return usagef("--state %q is not one of %s", state, stateNames())
			}
			return noArgs(cmd, args)
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			var r struct{ Continuations []supervisor.ContInfo }
			req := &proto.AdminRequest{Op: proto.AdminConts, App: app, State: state}
			return c.query(cmd, req, "list continuations", "", &r, func() error {
				sort.Slice(r.Continuations, func(i, j int) bool { return r.Continuations[i].ID < r.Continuations[j].ID })
				t := newTable(c.stdout, "ID", "APP", "SESSION", "KIND", "STATE", "OLD-PID", "FDS", "HELD", "STORE", "EXPIRES")
				now := c.now()
				for _, ci := range r.Continuations {
					t.row(ci.ID.String(), ci.App, ci.Session.String(), string(ci.Kind), string(ci.State), num(ci.OldPID),
						fmt.Sprint(ci.FDsBefore), fmt.Sprint(ci.FDsAfter), bytesize(ci.StoreRawBytes), until(ci.Expires, now))
				}
				return t.flush()
			})
		},
	}
	cmd.Flags().StringVar(&app, "app", "", "only this app's continuations")
	cmd.Flags().StringVar(&state, "state", "", "only continuations in this state ("+stateNames()+")")
	return cmd
}

func (c *cli) statsCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "stats",
		GroupID: groupSessions,
		Short:   "Show counts and descriptor accounting",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var s supervisor.Stats
			return c.query(cmd, &proto.AdminRequest{Op: proto.AdminStats}, "read stats", "", &s, func() error {
				w := newTable(c.stdout, "WHAT", "VALUE")
				w.row("apps", c.knownOr(fmt.Sprint(s.Apps)))
				w.row("sessions", c.knownOr(fmt.Sprint(s.Sessions)))
				w.row("continuations", fmt.Sprint(s.Continuations))
				states := make([]string, 0, len(s.ByState))
				for st := range s.ByState {
					states = append(states, string(st))
				}
				sort.Strings(states)
				for _, st := range states {
					w.row("  "+st, fmt.Sprint(s.ByState[contstore.State(st)]))
				}
				w.row("held descriptors", c.knownOr(fmt.Sprintf("%d in continuations, %d held after collapse", s.HeldBefore, s.HeldAfter)))
				w.row("store file", bytesize(s.StoreFileBytes))
				w.row("stores", fmt.Sprintf("%s raw, %s compressed", bytesize(s.StoreRawBytes), bytesize(s.StoreCompressedBytes)))
				w.row("supervisor fds", c.knownOr(fmt.Sprint(s.OpenFDs)))
				return w.flush()
			})
		},
	}
}

// stateNames lists the continuation states, comma separated.
func stateNames() string {
	var s []string
	for _, st := range contstore.States() {
		s = append(s, string(st))
	}
	return strings.Join(s, ", ")
}

// listenText is the held sockets' addresses, comma-separated.
func listenText(ls []supervisor.ListenInfo) string {
	var out []string
	for _, l := range ls {
		out = append(out, l.Address)
	}
	return strings.Join(out, ",")
}
