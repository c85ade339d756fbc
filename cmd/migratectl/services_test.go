package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/migrate-run/migrate/fdpass"
	"github.com/migrate-run/migrate/proto"
	"github.com/migrate-run/migrate/supervisor"
)

// t0 is when the fixtures' services started; the rendering tests look at
// them 3m12s later.
var t0 = time.Date(2026, 11, 26, 6, 30, 0, 0, time.UTC)

// webService is a running service with everything status shows.
func webService(started time.Time) supervisor.AppInfo {
	return supervisor.AppInfo{Name: "web", State: "running", StatusText: "Serving 12 clients", Ready: true,
		File: "/etc/migrate/web.toml", Restart: "on-failure", Restarts: 2, PID: 1234, Started: started,
		Cgroup: "/migrate/web", Processes: []int{1234, 1250},
		Listen: []supervisor.ListenInfo{{Address: "tcp://127.0.0.1:8080", Name: "http"},
			{Address: "unix:/run/web/admin.sock", Name: "admin", Accept: true, MaxConnections: 8, Connections: 2, Accepted: 40, Refused: 1}},
		FDStore: []supervisor.FDStoreInfo{
			{Name: "state", Cont: 17, Added: started, Desc: fdpass.Description{Kind: fdpass.KindMemfd, Path: "/memfd:state (deleted)"}},
			{Name: "conn", Cont: 18, Added: started, Desc: fdpass.Description{Kind: fdpass.KindTCP, Local: "127.0.0.1:8080", Peer: "10.0.0.2:51234"}}},
		Usage: &supervisor.Usage{MemoryBytes: 12_897_485, MemoryPeak: 20 << 20, MemoryMax: 512 << 20,
			CPU: 1520 * time.Millisecond, Tasks: 3, TasksMax: 256},
		Sessions: 3, Suspended: 1}
}

// otherServices are services in the other states: failed, restarting,
// stopped, exited, and an app migrate-run started.
func otherServices(now time.Time) []supervisor.AppInfo {
	return []supervisor.AppInfo{
		{Name: "db", State: "failed", Result: "start-limit", StatusText: "cannot open /var/lib/db", Errno: 13,
			File: "/etc/migrate/db.toml", Restart: "on-failure", Restarts: 5, PID: 2001, Exit: &supervisor.ExitStatus{Code: 1}},
		{Name: "api", State: "restarting", Result: "signal", Restart: "always", Restarts: 1, PID: 3001,
			Exit: &supervisor.ExitStatus{Signal: "SIGSEGV"}, NextStart: now.Add(400 * time.Millisecond), File: "/etc/migrate/api.toml"},
		{Name: "cache", State: "stopped", Restart: "no", File: "/etc/migrate/cache.toml"},
		{Name: "batch", State: "exited", Result: "exit-code", PID: 4000, Exit: &supervisor.ExitStatus{Code: 3}, Restart: "no"},
		{Name: "counter", State: "starting", PID: 4100, Started: now.Add(-2 * time.Second), Processes: []int{4100},
			StatusText: "loading\tthe index\nfrom disk, which takes a long time on a cold cache"},
	}
}

func TestServicesTableForPeople(t *testing.T) {
	now := t0.Add(3*time.Minute + 12*time.Second)
	var buf bytes.Buffer
	if err := printServices(&buf, append(otherServices(now), webService(t0)), now); err != nil {
		t.Fatal(err)
	}
	// Sorted by name; PID, UPTIME and READY only while a process runs; a
	// state with its result; the status text on one line, cut at 40.
	want := "" +
		"NAME     STATE                 PID   UPTIME  RESTARTS  READY  STATUS                                    LISTEN\n" +
		"api      restarting (signal)   -     -       1         -      -                                         -\n" +
		"batch    exited (exit-code)    -     -       0         -      -                                         -\n" +
		"cache    stopped               -     -       0         -      -                                         -\n" +
		"counter  starting              4100  2s      0         no     loading the index from disk, which take…  -\n" +
		"db       failed (start-limit)  -     -       5         -      cannot open /var/lib/db                   -\n" +
		"web      running               1234  3m12s   2         yes    Serving 12 clients                        tcp://127.0.0.1:8080,unix:/run/web/admin.sock\n"
	if got := buf.String(); got != want {
		t.Errorf("services table:\n%s\nwant:\n%s", got, want)
	}
}

func TestStatusBlockForPeople(t *testing.T) {
	now := t0.Add(3*time.Minute + 12*time.Second)
	logs := []supervisor.LogLine{{Seq: 7, Time: t0.Add(3*time.Minute + 10*time.Second), Stream: "stdout", Text: "listening on 127.0.0.1:8080"},
		{Seq: 8, Time: t0.Add(3*time.Minute + 11*time.Second), Stream: "stderr", Text: "slow request: 2.1s"}}
	others := otherServices(now)
	for _, tc := range []struct {
		info supervisor.AppInfo
		logs []supervisor.LogLine
		want string
	}{
		{webService(t0), logs, "" +
			"● web — running since 2026-11-26 06:30:00 UTC; 3m12s ago\n" +
			"    Main PID: 1234\n" +
			"    Restarts: 2 (policy on-failure)\n" +
			"      Status: \"Serving 12 clients\"\n" +
			"       Ready: yes\n" +
			"      Cgroup: /migrate/web\n" +
			"       Tasks: 3 (limit 256)\n" +
			"      Memory: 12.3 MiB (peak 20.0 MiB, limit 512.0 MiB)\n" +
			"         CPU: 1.52s\n" +
			"      Listen: tcp://127.0.0.1:8080 (http)\n" +
			"              unix:/run/web/admin.sock (admin): accept, 2/8 connections, 40 accepted, 1 refused\n" +
			"    FD store: state: memfd /memfd:state (deleted), cont 17\n" +
			"              conn: tcp 127.0.0.1:8080 -> 10.0.0.2:51234, cont 18\n" +
			"    Sessions: 3 live, 1 suspended\n" +
			"        File: /etc/migrate/web.toml\n" +
			"\n" +
			"2026-11-26T06:33:10.000Z stdout listening on 127.0.0.1:8080\n" +
			"2026-11-26T06:33:11.000Z stderr slow request: 2.1s\n"},
		{others[0], nil, "" +
			"× db — failed (start-limit)\n" +
			"    Main PID: 2001 (exit 1)\n" +
			"    Restarts: 5 (policy on-failure)\n" +
			"      Status: \"cannot open /var/lib/db\" (errno 13: permission denied)\n" +
			"    Sessions: 0 live, 0 suspended\n" +
			"        File: /etc/migrate/db.toml\n"},
		{others[1], nil, "" +
			"○ api — restarting (signal)\n" +
			"    Main PID: 3001 (killed by SIGSEGV)\n" +
			"    Restarts: 1 (policy always)\n" +
			"  Next start: 2026-11-26 06:33:12 UTC (in 400ms)\n" +
			"    Sessions: 0 live, 0 suspended\n" +
			"        File: /etc/migrate/api.toml\n"},
		{supervisor.AppInfo{Name: "web", State: "stopping", PID: 1234, Started: t0, Ready: true,
			Listen: []supervisor.ListenInfo{{Address: "udp://127.0.0.1:5353"}}}, nil, "" +
			"● web — stopping; started 2026-11-26 06:30:00 UTC, 3m12s ago\n" +
			"    Main PID: 1234\n" +
			"    Restarts: 0\n" +
			"       Ready: yes\n" +
			"      Listen: udp://127.0.0.1:5353\n" +
			"    Sessions: 0 live, 0 suspended\n"},
		{supervisor.AppInfo{Name: "counter", State: "running", PID: 4100, Ready: true, Started: now.Add(-26 * time.Hour),
			Usage: &supervisor.Usage{MemoryBytes: 3 << 30, Tasks: 1}}, nil, "" +
			"● counter — running since 2026-11-25 04:33:12 UTC; 1d2h ago\n" +
			"    Main PID: 4100\n" +
			"    Restarts: 0\n" +
			"       Ready: yes\n" +
			"       Tasks: 1\n" +
			"      Memory: 3.0 GiB\n" +
			"         CPU: 0s\n" +
			"    Sessions: 0 live, 0 suspended\n"},
	} {
		var buf bytes.Buffer
		if err := (statusView{info: tc.info, logs: tc.logs, now: now, loc: time.UTC}).print(&buf); err != nil {
			t.Fatal(err)
		}
		if got := buf.String(); got != tc.want {
			t.Errorf("status %s:\n%s\nwant:\n%s", tc.info.Name, got, tc.want)
		}
	}
}

func TestServicesAsksTheSupervisor(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Second)
	list := append(otherServices(now), webService(now.Add(-time.Minute)))
	f := newFake(t, map[string]answer{proto.AdminServices: doc(map[string]any{"services": list})})
	code, out, errOut := f.run("services")
	if code != exitOK || errOut != "" {
		t.Fatalf("services: exit %d, stderr %q", code, errOut)
	}
	if got := f.requests(); !reflect.DeepEqual(got, []proto.AdminRequest{{Op: proto.AdminServices}}) {
		t.Errorf("services asked %+v", got)
	}
	rows := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(rows) != 7 || !strings.HasPrefix(rows[0], "NAME ") {
		t.Fatalf("services printed %d lines:\n%s", len(rows), out)
	}
	for i, name := range []string{"api", "batch", "cache", "counter", "db", "web"} {
		if f := strings.Fields(rows[i+1]); f[0] != name {
			t.Errorf("row %d is %q, want %s (sorted by name)", i+1, rows[i+1], name)
		}
	}
	hasRow(t, out, "web", "running", "1234")

	// --json prints the document as the supervisor sent it, which reads
	// back as what it sent.
	code, out, _ = f.run("--json", "services")
	var back struct{ Services []supervisor.AppInfo }
	if err := json.Unmarshal([]byte(out), &back); code != exitOK || err != nil || !reflect.DeepEqual(back.Services, list) {
		t.Errorf("services --json: exit %d, %v:\n%s", code, err, out)
	}
}

// logPages answers logs with lines 1..12 of app, in two pages.
func logPages(app string, start time.Time) answer {
	line := func(seq uint64) supervisor.LogLine {
		return supervisor.LogLine{Seq: seq, Time: start.Add(time.Duration(seq) * time.Second), Stream: "stdout", Text: fmt.Sprintf("line %d", seq)}
	}
	return func(r *proto.AdminRequest) (any, *proto.Error) {
		page := supervisor.LogsPage{App: app, Next: 13, Done: false}
		first, last := uint64(8), uint64(12)
		if r.Since < 8 {
			first, last, page.Next, page.More = 1, 7, 8, true
		}
		for seq := first; seq <= last; seq++ {
			page.Lines = append(page.Lines, line(seq))
		}
		return page, nil
	}
}

func TestStatusAsksForTheServiceAndItsLastLines(t *testing.T) {
	started := time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
	web := webService(started)
	f := newFake(t, map[string]answer{
		proto.AdminStatus: doc(map[string]any{"service": web}),
		proto.AdminLogs:   logPages("web", started),
	})
	code, out, errOut := f.run("status", "web")
	if code != exitOK || errOut != "" {
		t.Fatalf("status web: exit %d, stderr %q", code, errOut)
	}
	want := []proto.AdminRequest{{Op: proto.AdminStatus, App: "web"}, {Op: proto.AdminLogs, App: "web"}, {Op: proto.AdminLogs, App: "web", Since: 8}}
	if got := f.requests(); !reflect.DeepEqual(got, want) {
		t.Errorf("status asked %+v, want %+v", got, want)
	}
	head, tail, ok := strings.Cut(out, "\n\n")
	if !ok || !strings.HasPrefix(head, "● web — running since "+started.Local().Format(statusTimeFormat)+"; 1h0m ago\n    Main PID: 1234\n") {
		t.Errorf("status web:\n%s", out)
	}
	// The last 10 of the 12 kept lines, from both pages, as logs prints
	// them.
	var lines []string
	for seq := 3; seq <= 12; seq++ {
		lines = append(lines, started.Add(time.Duration(seq)*time.Second).Local().Format(logsTimeFormat)+fmt.Sprintf(" stdout line %d\n", seq))
	}
	if tail != strings.Join(lines, "") {
		t.Errorf("status web printed the output lines\n%s\nwant\n%s", tail, strings.Join(lines, ""))
	}

	if _, out, _ := f.run("status", "-n", "2", "web"); !strings.HasSuffix(out, "\n\n"+strings.Join(lines[8:], "")) {
		t.Errorf("status -n 2:\n%s", out)
	}
	f.requests()
	// -n 0 and --json ask for no lines; --json prints the status
	// document alone.
	if _, out, _ := f.run("status", "-n", "0", "web"); strings.Contains(out, "\n\n") || !strings.HasSuffix(out, "File: /etc/migrate/web.toml\n") {
		t.Errorf("status -n 0:\n%s", out)
	}
	code, out, _ = f.run("--json", "status", "web")
	var back struct{ Service supervisor.AppInfo }
	if err := json.Unmarshal([]byte(out), &back); code != exitOK || err != nil || !reflect.DeepEqual(back.Service, web) {
		t.Errorf("status --json: exit %d, %v:\n%s", code, err, out)
	}
	if got := f.requests(); len(got) != 2 || got[0].Op != proto.AdminStatus || got[1].Op != proto.AdminStatus {
		t.Errorf("status -n 0 and --json asked %+v, want status twice", got)
	}
}

// A service whose output the supervisor does not keep still has a status.
func TestStatusWithoutOutput(t *testing.T) {
	f := newFake(t, map[string]answer{
		proto.AdminStatus: doc(`{"service": {"name": "cache", "state": "stopped", "restart": "no", "restarts": 0, "cgroup": "", "processes": []}}`),
		proto.AdminLogs:   fails(proto.CodeBusy, "read logs of app cache: output not captured: wrong state"),
	})
	code, out, errOut := f.run("status", "cache")
	if want := "○ cache — stopped\n    Restarts: 0 (policy no)\n    Sessions: 0 live, 0 suspended\n"; code != exitOK || errOut != "" || out != want {
		t.Errorf("status cache: exit %d, stdout %q, stderr %q; want 0 and %q", code, out, errOut, want)
	}
}
