package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/migrate-run/migrate/proto"
	"github.com/migrate-run/migrate/supervisor"
)

func (c *cli) showCmd() *cobra.Command {
	var values bool
	cmd := &cobra.Command{
		Use:               "show ID [--values]",
		GroupID:           groupSessions,
		Example:           "  migratectl show --values 9",
		Short:             "Show one continuation: descriptors, store, exec description",
		Args:              idArg("continuation"),
		ValidArgsFunction: c.completeConts,
		RunE: func(cmd *cobra.Command, args []string) error {
			id, _ := parseID("continuation", args[0])
			var r struct{ Continuation supervisor.ContInfo }
			object := "continuation " + args[0]
			req := &proto.AdminRequest{Op: proto.AdminShow, Cont: id, Values: values}
			return c.query(cmd, req, "show "+object, object, &r, func() error {
				return printCont(c.stdout, r.Continuation, values, c.now())
			})
		},
	}
	cmd.Flags().BoolVar(&values, "values", false, "include the store's values and the exec environment")
	return cmd
}

// printCont writes a readable record of ci.
func printCont(w io.Writer, ci supervisor.ContInfo, values bool, now time.Time) error {
	t := newTable(w, "continuation", ci.ID.String())
	t.row("app", ci.App)
	t.row("session", ci.Session.String())
	t.row("kind", string(ci.Kind))
	t.row("state", string(ci.State))
	t.row("old pid", num(ci.OldPID))
	t.row("created", stamp(ci.Created, ago(ci.Created, now)))
	t.row("expires", stamp(ci.Expires, until(ci.Expires, now)))
	t.row("note", ci.Note)
	t.row("descriptors", fmt.Sprintf("%d in continuation, %d held after collapse", ci.FDsBefore, ci.FDsAfter))
	t.row("state size", fmt.Sprintf("%s raw, %s compressed", bytesize(ci.StoreRawBytes), bytesize(ci.StoreCompressedBytes)))
	t.row("held fds", joinInts(ci.Held))
	if err := t.flush(); err != nil {
		return err
	}
	printSlots(w, ci.Slots)
	printStore(w, ci.Store, values)
	printExec(w, ci.Exec, values)
	if len(ci.Compat) > 0 {
		fmt.Fprintln(w, "\ncompat:")
		t := newTable(w, "  ID", "NAME", "VALUE")
		for _, tag := range ci.Compat {
			t.row("  "+fmt.Sprint(tag.ID), tag.Name, tag.Value)
		}
		return t.flush()
	}
	return nil
}

func stamp(t time.Time, rel string) string {
	if t.IsZero() {
		return ""
	}
	return t.Local().Format(time.RFC3339) + " (" + rel + ")"
}

func printSlots(w io.Writer, slots []supervisor.SlotInfo) {
	fmt.Fprintf(w, "\nslots (%d):\n", len(slots))
	if len(slots) == 0 {
		return
	}
	t := newTable(w, "  FD", "ROLE", "NAME", "KIND", "LOCAL", "PEER", "HELD-AS")
	for _, s := range slots {
		local, peer := s.Desc.Local, s.Desc.Peer
		if local == "" && peer == "" {
			local = s.Desc.Path
		}
		held := "not held"
		if s.HeldFD >= 0 {
			held = fmt.Sprintf("#%d (fd %d)", s.Held, s.HeldFD)
		}
		t.row("  "+strconv.Itoa(s.Number), s.Role, s.Name, string(s.Desc.Kind), local, peer, held)
	}
	_ = t.flush()
}

func printStore(w io.Writer, store []supervisor.EntryInfo, values bool) {
	fmt.Fprintf(w, "\nstore (%d keys):\n", len(store))
	if len(store) == 0 {
		return
	}
	header := []string{"  KEY", "SIZE", "EXPORTED"}
	if values {
		header = append(header, "VALUE")
	}
	t := newTable(w, header...)
	for _, e := range store {
		exported := "no"
		if e.Exported {
			exported = "yes"
		}
		row := []string{"  " + e.Key, bytesize(e.Size), exported}
		if values {
			row = append(row, valueText(e.Value))
		}
		t.row(row...)
	}
	_ = t.flush()
}

// valueText is v quoted when it is printable text, hex otherwise; long
// values are cut at 64 bytes.
func valueText(v []byte) string {
	const limit = 64
	cut := ""
	if len(v) > limit {
		v, cut = v[:limit], fmt.Sprintf("... (%d bytes)", len(v))
	}
	if utf8.Valid(v) && strings.IndexFunc(string(v), func(r rune) bool { return r < ' ' || r == 0x7f }) < 0 {
		return strconv.Quote(string(v)) + cut
	}
	return fmt.Sprintf("0x%x", v) + cut
}

func printExec(w io.Writer, e *supervisor.ExecInfo, values bool) {
	if e == nil {
		return
	}
	fmt.Fprintln(w, "\nexec:")
	t := newTable(w, "  args", quoteArgs(e.Args))
	t.row("  cwd", e.Cwd)
	t.row("  uid/gid", fmt.Sprintf("%d/%d", e.UID, e.GID))
	switch {
	case !values:
		// The supervisor sends the environment only with values: it may
		// hold secrets.
		t.row("  env", "(--values shows it)")
	case len(e.Env) == 0:
		t.row("  env", "(empty)")
	}
	if values {
		for i, kv := range e.Env {
			t.row(fmt.Sprintf("  env[%d]", i), kv)
		}
	}
	_ = t.flush()
}

// quoteArgs is argv as a shell would need it typed.
func quoteArgs(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		if a == "" || strings.ContainsAny(a, " \t\n'\"\\$`*?[]{}()<>|&;#~") {
			a = strconv.Quote(a)
		}
		q[i] = a
	}
	return strings.Join(q, " ")
}
