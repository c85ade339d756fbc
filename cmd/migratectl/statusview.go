package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/migrate-run/migrate/supervisor"
)

// statusTimeFormat is how status prints a moment.
const statusTimeFormat = "2006-01-02 15:04:05 MST"

// statusView is what status prints about a service: its document, its
// last output lines, and the moment and time zone to show it in.
type statusView struct {
	info supervisor.AppInfo
	logs []supervisor.LogLine
	now  time.Time
	loc  *time.Location
}

func (v statusView) print(w io.Writer) error {
	a := v.info
	b := &block{w: w}
	b.printf("%s %s — %s\n", mark(a), a.Name, v.headline())
	b.line("Main PID", mainPID(a))
	b.line("Restarts", restartsText(a))
	if !a.NextStart.IsZero() {
		b.line("Next start", v.stamp(a.NextStart)+" ("+inText(a.NextStart.Sub(v.now))+")")
	}
	b.line("Status", statusText(a))
	if active(a) {
		b.line("Ready", yesNo(a.Ready))
	}
	b.line("Cgroup", a.Cgroup)
	if u := a.Usage; u != nil {
		b.line("Tasks", tasksText(u))
		b.line("Memory", memoryText(u))
		b.line("CPU", u.CPU.Round(time.Millisecond).String())
	}
	b.line("Listen", listenLines(a.Listen)...)
	b.line("FD store", fdStoreLines(a.FDStore)...)
	b.line("Sessions", fmt.Sprintf("%d live, %d suspended", a.Sessions, a.Suspended))
	b.line("File", a.File)
	if len(v.logs) > 0 {
		b.printf("\n")
		for _, l := range v.logs {
			b.printf("%s\n", logText(l, v.loc))
		}
	}
	return b.err
}

// headline is the state and since when: "running since 2026-11-26
// 06:30:00 UTC; 3m12s ago", "failed (start-limit)". Only the start of the
// main process is known, so a service reloading or stopping says when it
// started, not since when it is in that state.
func (v statusView) headline() string {
	a := v.info
	switch {
	case !active(a) || a.Started.IsZero():
		return stateText(a)
	case a.State == "running" || a.State == "starting":
		return fmt.Sprintf("%s since %s; %s ago", stateText(a), v.stamp(a.Started), span(v.now.Sub(a.Started)))
	}
	return fmt.Sprintf("%s; started %s, %s ago", stateText(a), v.stamp(a.Started), span(v.now.Sub(a.Started)))
}

func (v statusView) stamp(t time.Time) string { return t.In(v.loc).Format(statusTimeFormat) }

// mark is systemctl's: ● while a process runs, × failed, ○ otherwise.
func mark(a supervisor.AppInfo) string {
	switch {
	case active(a):
		return "●"
	case a.State == "failed":
		return "×"
	}
	return "○"
}

// mainPID is the main process, with how it ended once it did.
func mainPID(a supervisor.AppInfo) string {
	switch {
	case a.PID == 0:
		return ""
	case a.Exit != nil:
		return fmt.Sprintf("%d (%s)", a.PID, exitText(a.Exit))
	}
	return strconv.Itoa(a.PID)
}

func restartsText(a supervisor.AppInfo) string {
	if a.Restart == "" {
		return strconv.Itoa(a.Restarts)
	}
	return fmt.Sprintf("%d (policy %s)", a.Restarts, a.Restart)
}

// statusText is the STATUS= text, quoted, and the ERRNO= the service sent.
func statusText(a supervisor.AppInfo) string {
	var parts []string
	if a.StatusText != "" {
		parts = append(parts, strconv.Quote(a.StatusText))
	}
	if a.Errno != 0 {
		parts = append(parts, fmt.Sprintf("(errno %d: %s)", a.Errno, syscall.Errno(a.Errno)))
	}
	return strings.Join(parts, " ")
}

// inText is a wait for people: "in 400ms", "in 2m5s", "due".
func inText(d time.Duration) string {
	switch {
	case d <= 0:
		return "due"
	case d < time.Minute:
		return "in " + d.Round(time.Millisecond).String()
	}
	return "in " + span(d)
}

func tasksText(u *supervisor.Usage) string {
	if u.TasksMax == 0 {
		return strconv.FormatUint(u.Tasks, 10)
	}
	return fmt.Sprintf("%d (limit %d)", u.Tasks, u.TasksMax)
}

// memoryText is "12.3 MiB (peak 20.0 MiB, limit 512.0 MiB)", leaving out
// what the hierarchy does not offer and an absent limit.
func memoryText(u *supervisor.Usage) string {
	var more []string
	if u.MemoryPeak != 0 {
		more = append(more, "peak "+bytesize(u.MemoryPeak))
	}
	if u.MemoryMax != 0 {
		more = append(more, "limit "+bytesize(u.MemoryMax))
	}
	if len(more) == 0 {
		return bytesize(u.MemoryBytes)
	}
	return bytesize(u.MemoryBytes) + " (" + strings.Join(more, ", ") + ")"
}

// listenLines is one line per held socket: "tcp://0.0.0.0:80 (http)" (its
// LISTEN_FDNAMES name in parentheses), and for an accept socket its
// connections: "...: accept, 2/8 connections, 40 accepted, 1 refused".
func listenLines(ls []supervisor.ListenInfo) []string {
	out := make([]string, 0, len(ls))
	for _, l := range ls {
		s := l.Address
		if l.Name != "" {
			s += " (" + l.Name + ")"
		}
		if l.Accept {
			conns := strconv.Itoa(l.Connections)
			if l.MaxConnections > 0 {
				conns += "/" + strconv.Itoa(l.MaxConnections)
			}
			s += fmt.Sprintf(": accept, %s connections, %d accepted, %d refused", conns, l.Accepted, l.Refused)
		}
		out = append(out, s)
	}
	return out
}

// fdStoreLines is one line per fd store entry: "state: memfd
// /memfd:state (deleted), cont 17".
func fdStoreLines(fs []supervisor.FDStoreInfo) []string {
	out := make([]string, 0, len(fs))
	for _, f := range fs {
		s := f.Name + ": " + string(f.Desc.Kind)
		if e := endpoints(f.Desc); e != string(f.Desc.Kind) {
			s += " " + e
		}
		if f.Cont != 0 {
			s += ", cont " + f.Cont.String()
		}
		out = append(out, s)
	}
	return out
}
