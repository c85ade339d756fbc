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

// completeTimeout bounds the supervisor's answer while a shell completes.
const completeTimeout = 2 * time.Second

// completeConts offers the ids of stored continuations, described by app
// and state, for show, resume and drop.
func (c *cli) completeConts(cmd *cobra.Command, args []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var r struct{ Continuations []supervisor.ContInfo }
	if !c.ask(cmd, &proto.AdminRequest{Op: proto.AdminConts}, &r) {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	out := make([]cobra.Completion, 0, len(r.Continuations))
	for _, ci := range r.Continuations {
		out = append(out, cobra.CompletionWithDesc(ci.ID.String(), fmt.Sprintf("%s, session %v, %s", ci.App, ci.Session, ci.State)))
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

// completeSessions offers the ids of live sessions for suspend.
func (c *cli) completeSessions(cmd *cobra.Command, args []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var r struct{ Sessions []supervisor.SessionInfo }
	if !c.ask(cmd, &proto.AdminRequest{Op: proto.AdminSessions}, &r) {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	out := make([]cobra.Completion, 0, len(r.Sessions))
	for _, s := range r.Sessions {
		out = append(out, cobra.CompletionWithDesc(s.ID.String(), fmt.Sprintf("%s %s, pid %d, %s", s.App, s.Name, s.PID, s.State)))
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

// completeServices offers the names of the services, described by their
// state, for status, start, stop, restart and logs. A supervisor older
// than the services operation offers its apps instead.
func (c *cli) completeServices(cmd *cobra.Command, args []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var r struct{ Services, Apps []supervisor.AppInfo }
	if !c.ask(cmd, &proto.AdminRequest{Op: proto.AdminServices}, &r) &&
		!c.ask(cmd, &proto.AdminRequest{Op: proto.AdminApps}, &r) {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	out := make([]cobra.Completion, 0, len(r.Services)+len(r.Apps))
	for _, a := range append(r.Services, r.Apps...) {
		out = append(out, cobra.CompletionWithDesc(a.Name, stateText(a)))
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

// ask runs req for a completion: quietly, briefly, true when out is filled.
func (c *cli) ask(cmd *cobra.Command, req *proto.AdminRequest, out any) bool {
	ctx, cancel := context.WithTimeout(orBackground(cmd.Context()), completeTimeout)
	defer cancel()
	ac, err := supervisor.Dial(c.socket)
	if err != nil {
		return false
	}
	defer ac.Close()
	js, err := ac.Do(ctx, req)
	return err == nil && json.Unmarshal(js, out) == nil
}

func orBackground(ctx context.Context) context.Context {
	if ctx == nil {
		return context.Background()
	}
	return ctx
}
