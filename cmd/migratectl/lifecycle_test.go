package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/migrate-run/migrate/proto"
	"github.com/migrate-run/migrate/supervisor"
)

// service answers with {"service": a}, a's name set to the request's.
func service(a supervisor.AppInfo) answer {
	return func(r *proto.AdminRequest) (any, *proto.Error) {
		a.Name = r.App
		return map[string]any{"service": a}, nil
	}
}

func TestStartStopRestartPrintOneLine(t *testing.T) {
	running := supervisor.AppInfo{State: "running", PID: 1234, Ready: true, Started: time.Now()}
	for _, tc := range []struct {
		cmd, op string
		after   supervisor.AppInfo
		want    string
	}{
		{"start", proto.AdminStart, running, "started web (pid 1234)\n"},
		{"start", proto.AdminStart, supervisor.AppInfo{State: "starting", PID: 1234}, "started web (pid 1234, not ready yet)\n"},
		{"start", proto.AdminStart, supervisor.AppInfo{State: "exited", PID: 1234, Exit: &supervisor.ExitStatus{}}, "started web; now exited\n"},
		{"stop", proto.AdminStop, supervisor.AppInfo{State: "stopped", PID: 1234, Exit: &supervisor.ExitStatus{Signal: "SIGTERM"}}, "stopped web\n"},
		{"stop", proto.AdminStop, supervisor.AppInfo{State: "failed", Result: "timeout"}, "stopped web; now failed (timeout)\n"},
		{"restart", proto.AdminRestart, supervisor.AppInfo{State: "running", PID: 1240, Ready: true}, "restarted web (pid 1240)\n"},
	} {
		f := newFake(t, map[string]answer{tc.op: service(tc.after)})
		code, out, errOut := f.run(tc.cmd, "web")
		if code != exitOK || out != tc.want || errOut != "" {
			t.Errorf("%s web (%s): exit %d, stdout %q, stderr %q; want 0 and %q", tc.cmd, tc.after.State, code, out, errOut, tc.want)
		}
		if got := f.requests(); !reflect.DeepEqual(got, []proto.AdminRequest{{Op: tc.op, App: "web"}}) {
			t.Errorf("%s web asked %+v", tc.cmd, got)
		}
		// --json prints the document, which reads back as sent.
		code, out, _ = f.run("--json", tc.cmd, "web")
		var back struct{ Service supervisor.AppInfo }
		want := tc.after
		want.Name = "web"
		if err := json.Unmarshal([]byte(out), &back); code != exitOK || err != nil || !back.Service.Started.Equal(want.Started) {
			t.Errorf("%s --json: exit %d, %v: %s", tc.cmd, code, err, out)
		}
		back.Service.Started = want.Started
		if !reflect.DeepEqual(back.Service, want) {
			t.Errorf("%s --json read back %+v, want %+v", tc.cmd, back.Service, want)
		}
	}
}

// A service that is failed after start or restart is an error, with
// --json too: the exit status says whether it runs.
func TestStartThatFailsIsAnError(t *testing.T) {
	for _, tc := range []struct {
		cmd, op string
		after   supervisor.AppInfo
		want    string
	}{
		{"start", proto.AdminStart, supervisor.AppInfo{State: "failed", Result: "start-limit"},
			"migratectl: start web: web failed (start-limit); migratectl status web says more\n"},
		{"restart", proto.AdminRestart, supervisor.AppInfo{State: "failed", Result: "spawn"},
			"migratectl: restart web: web failed (spawn); migratectl status web says more\n"},
		{"start", proto.AdminStart, supervisor.AppInfo{State: "exited", Result: "exit-code", PID: 7, Exit: &supervisor.ExitStatus{Code: 2}},
			"migratectl: start web: web exited (exit-code, exit 2); migratectl status web says more\n"},
	} {
		f := newFake(t, map[string]answer{tc.op: service(tc.after)})
		code, out, errOut := f.run(tc.cmd, "web")
		if code != exitFail || out != "" || errOut != tc.want {
			t.Errorf("%s (%s): exit %d, stdout %q, stderr %q; want 1, nothing, %q", tc.cmd, tc.after.State, code, out, errOut, tc.want)
		}
		code, out, errOut = f.run("--json", tc.cmd, "web")
		if code != exitFail || !strings.HasPrefix(out, `{"service":{"name":"web","state":"`+tc.after.State+`"`) || errOut != tc.want {
			t.Errorf("%s --json (%s): exit %d, stdout %q, stderr %q; want 1, the document, %q", tc.cmd, tc.after.State, code, out, errOut, tc.want)
		}
	}
}

func TestReloadSaysWhatChanged(t *testing.T) {
	for _, tc := range []struct{ doc, want string }{
		{`{"started": ["db2"], "stopped": ["old"], "restarted": ["web", "api"], "unchanged": ["cache"]}`,
			"started    db2\nstopped    old\nrestarted  api, web\nunchanged  cache\n"},
		{`{"started": [], "stopped": [], "restarted": [], "unchanged": ["web", "cache"]}`, "nothing changed\nunchanged  cache, web\n"},
		{`{"started": null, "stopped": null, "restarted": null, "unchanged": null}`, "nothing changed\n"},
	} {
		f := newFake(t, map[string]answer{proto.AdminReload: doc(tc.doc)})
		code, out, errOut := f.run("reload")
		if code != exitOK || out != tc.want || errOut != "" {
			t.Errorf("reload of %s: exit %d, stdout %q, stderr %q; want 0 and %q", tc.doc, code, out, errOut, tc.want)
		}
		if got := f.requests(); !reflect.DeepEqual(got, []proto.AdminRequest{{Op: proto.AdminReload}}) {
			t.Errorf("reload asked %+v", got)
		}
		if code, out, _ := f.run("--json", "reload"); code != exitOK || out != tc.doc+"\n" {
			t.Errorf("reload --json: exit %d, %q, want the document", code, out)
		}
	}
	// The supervisor's document decodes as a ReloadResult.
	f := newFake(t, map[string]answer{proto.AdminReload: doc(`{"started": ["db2"], "stopped": [], "restarted": ["web"], "unchanged": ["cache"]}`)})
	_, out, _ := f.run("--json", "reload")
	var r supervisor.ReloadResult
	want := supervisor.ReloadResult{Started: []string{"db2"}, Stopped: []string{}, Restarted: []string{"web"}, Unchanged: []string{"cache"}}
	if err := json.Unmarshal([]byte(out), &r); err != nil || !reflect.DeepEqual(r, want) {
		t.Errorf("reload document %s read as %+v (%v)", out, r, err)
	}
}

// A broken service directory: every problem, one per line, under the
// first line of the error; exit status 1.
func TestReloadOfABrokenDirectory(t *testing.T) {
	msg := "reload services: nothing changed:\n" +
		"/etc/migrate/web.toml:14: [restart] policy \"sometimes\": want no, on-failure or always\n" +
		"/etc/migrate/db.toml:3: readiness want a string, not a TOML integer"
	f := newFake(t, map[string]answer{proto.AdminReload: fails(proto.CodeInternal, msg)})
	code, out, errOut := f.run("reload")
	want := "migratectl: reload: reload services: nothing changed:\n" +
		"  /etc/migrate/web.toml:14: [restart] policy \"sometimes\": want no, on-failure or always\n" +
		"  /etc/migrate/db.toml:3: readiness want a string, not a TOML integer\n"
	if code != exitFail || out != "" || errOut != want {
		t.Errorf("reload: exit %d, stdout %q, stderr %q; want 1, nothing,\n%s", code, out, errOut, want)
	}
}

func TestUnknownServiceIsNotFound(t *testing.T) {
	// The supervisor's unknown-app error, as it words it.
	unknown := fails(proto.CodeNotSupported, "find app nosuch: unknown app")
	f := newFake(t, map[string]answer{proto.AdminStatus: unknown, proto.AdminStart: unknown, proto.AdminStop: unknown,
		proto.AdminRestart: unknown, proto.AdminLogs: unknown})
	for _, args := range [][]string{{"status", "nosuch"}, {"start", "nosuch"}, {"stop", "nosuch"}, {"restart", "nosuch"},
		{"logs", "nosuch"}, {"--json", "status", "nosuch"}} {
		code, out, errOut := f.run(args...)
		if code != exitFail || out != "" || errOut != "migratectl: service nosuch not found\n" {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want 1 and service nosuch not found", args, code, out, errOut)
		}
	}
}

// A supervisor older than the services operations refuses them while
// decoding: migratectl says so rather than "bad message".
func TestOlderSupervisorSaysSo(t *testing.T) {
	f := newFake(t, map[string]answer{proto.AdminServices: fails(proto.CodeBadMessage,
		`decode AdminRequest: invalid message: unknown admin op "services"`)})
	code, out, errOut := f.run("services")
	want := "migratectl: list services: the supervisor does not know this request (it is older than migratectl)\n"
	if code != exitFail || out != "" || errOut != want {
		t.Errorf("services: exit %d, stdout %q, stderr %q; want 1, nothing, %q", code, out, errOut, want)
	}
}

func TestServiceCommandLinesAreChecked(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "none.sock") // never dialled: usage is checked first
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"status"}, "expected one service name, got 0 arguments"},
		{[]string{"status", "a", "b"}, "expected one service name, got 2 arguments"},
		{[]string{"status", "-n", "-1", "web"}, "-n -1 is negative"},
		{[]string{"start"}, "expected one service name, got 0 arguments"},
		{[]string{"stop", ""}, "the service name is empty"},
		{[]string{"restart", "a", "b"}, "expected one service name, got 2 arguments"},
		{[]string{"reload", "web"}, `reload takes no arguments, got ["web"]`},
		{[]string{"services", "web"}, `services takes no arguments, got ["web"]`},
	} {
		code, out, errOut := migratectl(append([]string{"--socket", sock}, tc.args...)...)
		if code != exitUsage || out != "" || !strings.HasPrefix(errOut, "migratectl: ") || !strings.Contains(errOut, tc.want) {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want 2 and %q", tc.args, code, out, errOut, tc.want)
		}
	}
}

func TestCompletesServiceNames(t *testing.T) {
	f := newFake(t, map[string]answer{proto.AdminServices: doc(map[string]any{"services": []supervisor.AppInfo{
		{Name: "web", State: "running"}, {Name: "db", State: "failed", Result: "start-limit"}}})})
	for _, cmd := range []string{"status", "start", "stop", "restart", "logs"} {
		code, out, _ := f.run("__complete", cmd, "")
		if want := "web\trunning\ndb\tfailed (start-limit)\n:4\n"; code != exitOK || out != want {
			t.Errorf("complete %s: exit %d, %q, want %q", cmd, code, out, want)
		}
		// One name only: nothing more to offer, and no file names.
		if code, out, _ := f.run("__complete", cmd, "web", ""); code != exitOK || out != ":4\n" {
			t.Errorf("complete %s web: exit %d, %q", cmd, code, out)
		}
	}
	// A supervisor without the services operation offers its apps.
	old := newFake(t, map[string]answer{proto.AdminApps: doc(`{"apps": [{"name": "counter", "state": "running"}]}`)})
	if code, out, _ := old.run("__complete", "logs", ""); code != exitOK || out != "counter\trunning\n:4\n" {
		t.Errorf("complete logs from an older supervisor: exit %d, %q", code, out)
	}
	if got := old.requests(); len(got) != 2 || got[0].Op != proto.AdminServices || got[1].Op != proto.AdminApps {
		t.Errorf("completion asked %+v, want services then apps", got)
	}
}

// status opens a second connection for the output lines: both are closed.
func TestStatusLeavesNoDescriptors(t *testing.T) {
	f := newFake(t, map[string]answer{
		proto.AdminStatus: doc(map[string]any{"service": webService(t0)}),
		proto.AdminLogs:   logPages("web", t0),
	})
	count := func() int {
		ents, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			t.Fatal(err)
		}
		return len(ents)
	}
	f.run("status", "web") // the netpoller opens its descriptors once
	before := count()
	for range 20 {
		if code, _, errOut := f.run("status", "web"); code != exitOK {
			t.Fatalf("status: exit %d, %q", code, errOut)
		}
	}
	// The fake closes its end of a connection once it reads the hangup,
	// a moment after migratectl returns; nothing signals it, so poll. A
	// leak would be 40 above.
	deadline := time.Now().Add(5 * time.Second)
	for count() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if after := count(); after > before {
		t.Errorf("%d descriptors open after 20 status commands, %d before", after, before)
	}
}
