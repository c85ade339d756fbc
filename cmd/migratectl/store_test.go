package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/runtime-spec/specs-go"

	"github.com/migrate-run/migrate/contstore"
	"github.com/migrate-run/migrate/fdpass"
	"github.com/migrate-run/migrate/supervisor"
)

// storeFixture is a state directory whose store holds two sessions of app
// "echo" and a continuation of each, written by contstore with no
// supervisor; sock is a socket nobody listens on.
type storeFixture struct {
	dir, sock, path string
	sessions        []contstore.Session
	conts           []contstore.Continuation
}

func newStoreFixture(t *testing.T) *storeFixture {
	t.Helper()
	f := &storeFixture{dir: t.TempDir(), sock: filepath.Join(t.TempDir(), "none.sock")}
	f.path = filepath.Join(f.dir, supervisor.StoreFile)
	st, err := contstore.Open(f.path, contstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	conn := fdpass.Description{Kind: fdpass.KindTCP, Family: "inet", SockType: "stream",
		Local: "127.0.0.1:7000", Peer: "127.0.0.1:51234"}
	// Created 30 s short of a minute ago, so the list's "in 59mNNs" holds
	// however slowly the test runs (up to 30 s); rounding created to the
	// minute's edge showed "in 58m59s" once the test took half a second.
	created := time.Now().Add(-30 * time.Second).UTC().Truncate(time.Second)
	for i := range 2 {
		s := contstore.Session{App: "echo", State: contstore.SessionSuspended, Conn: conn}
		if err := st.PutSession(&s); err != nil {
			t.Fatal(err)
		}
		c := contstore.Continuation{App: "echo", Session: s.ID, Kind: contstore.KindComplete, State: contstore.StateSuspended,
			Created: created, Expires: created.Add(time.Hour), OldPID: 4242 + i, Note: "operator",
			Exec:     &specs.Process{Args: []string{"/bin/echo-server", "--resume"}, Env: []string{"SECRET=x"}, Cwd: "/"},
			Slots:    []contstore.Slot{{Name: "conn", Role: "conn", Number: 3, Desc: conn, Held: 0}},
			FDsAfter: 1,
			Store:    []contstore.Entry{{Key: "count", Value: []byte(strconv.Itoa(41 + i))}},
		}
		if err := st.Put(&c); err != nil {
			t.Fatal(err)
		}
		f.sessions, f.conts = append(f.sessions, s), append(f.conts, c)
	}
	return f
}

// run runs migratectl against the fixture's socket and state directory.
func (f *storeFixture) run(args ...string) (int, string, string) {
	return migratectl(append([]string{"--socket", f.sock, "--state-dir", f.dir}, args...)...)
}

// notice is what migratectl says on stderr when it reads the store.
func (f *storeFixture) notice() string {
	return "migratectl: no supervisor at " + f.sock + "; read from the store " + f.path + " (read-only)\n"
}

func TestReadsTheStoreWithoutASupervisor(t *testing.T) {
	f := newStoreFixture(t)
	id0, id1 := f.conts[0].ID.String(), f.conts[1].ID.String()
	for _, tc := range []struct {
		args []string
		want []string // substrings of stdout
	}{
		{[]string{"list"}, []string{"OLD-PID", "in 59m"}},
		{[]string{"list", "--state", "resumed"}, []string{"ID"}},
		{[]string{"show", id1}, []string{"continuation  " + id1, "old pid", "4243", "operator", "not held",
			"count", "/bin/echo-server --resume", "(--values shows it)"}},
		{[]string{"show", "--values", id0}, []string{`"41"`, "SECRET=x"}},
		{[]string{"sessions"}, []string{"HANDLER", "127.0.0.1:7000 -> 127.0.0.1:51234"}},
		{[]string{"stats"}, []string{"continuations     2", "suspended       2", "apps              unknown (no supervisor)",
			"held descriptors  unknown (no supervisor)", "supervisor fds    unknown (no supervisor)"}},
	} {
		code, out, errOut := f.run(tc.args...)
		if code != exitOK || errOut != f.notice() {
			t.Errorf("%v: exit %d, stderr %q; want 0 and the notice", tc.args, code, errOut)
		}
		for _, w := range tc.want {
			if !strings.Contains(out, w) {
				t.Errorf("%v: output lacks %q:\n%s", tc.args, w, out)
			}
		}
	}
	_, out, _ := f.run("list")
	for i, id := range []string{id0, id1} {
		hasRow(t, out, id, "echo", f.sessions[i].ID.String(), "complete", "suspended", strconv.Itoa(4242+i), "1", "1", "11", "B", "in")
	}
	_, out, _ = f.run("sessions")
	for _, s := range f.sessions {
		// Name, pid, handler, dependencies and continuation are the
		// running supervisor's: shown as "-".
		hasRow(t, out, s.ID.String(), "echo", "-", "suspended", "-", "-", "-", "-", "127.0.0.1:7000", "->", "127.0.0.1:51234")
	}
	// The filter applies: no resumed continuation, so only the header.
	if _, out, _ := f.run("list", "--state", "resumed"); strings.Count(out, "\n") != 1 {
		t.Errorf("list --state resumed printed rows:\n%s", out)
	}
	if _, out, _ := f.run("list", "--app", "other"); strings.Count(out, "\n") != 1 {
		t.Errorf("list --app other printed rows:\n%s", out)
	}
}

func TestStoreJSONHasTheSupervisorsShape(t *testing.T) {
	f := newStoreFixture(t)
	var list struct{ Continuations []supervisor.ContInfo }
	decodeJSON(t, f, &list, "--json", "list")
	if len(list.Continuations) != 2 || list.Continuations[1].ID != f.conts[1].ID ||
		list.Continuations[1].OldPID != 4243 || list.Continuations[1].Slots != nil {
		t.Errorf("list --json: %+v", list.Continuations)
	}
	var show struct{ Continuation supervisor.ContInfo }
	decodeJSON(t, f, &show, "--json", "show", "--values", f.conts[0].ID.String())
	ci := show.Continuation
	wantSlots := []supervisor.SlotInfo{{Number: 3, Name: "conn", Role: "conn", Held: 0, HeldFD: -1, Desc: f.conts[0].Slots[0].Desc}}
	if !reflect.DeepEqual(ci.Slots, wantSlots) || len(ci.Store) != 1 || string(ci.Store[0].Value) != "41" ||
		ci.Exec == nil || !reflect.DeepEqual(ci.Exec.Env, []string{"SECRET=x"}) || ci.Held != nil {
		t.Errorf("show --json --values: %+v", ci)
	}
	var sessions struct{ Sessions []supervisor.SessionInfo }
	raw := decodeJSON(t, f, &sessions, "--json", "sessions")
	if len(sessions.Sessions) != 2 || sessions.Sessions[0].ID != f.sessions[0].ID || sessions.Sessions[0].State != "suspended" ||
		sessions.Sessions[0].Conn.Peer != "127.0.0.1:51234" {
		t.Errorf("sessions --json: %+v", sessions.Sessions)
	}
	if strings.Contains(raw, `"handler"`) || strings.Contains(raw, `"pid"`) {
		t.Errorf("sessions --json invents what only the supervisor knows: %s", raw)
	}
	var stats map[string]any
	raw = decodeJSON(t, f, &stats, "--json", "stats")
	if stats["continuations"] != 2.0 || !reflect.DeepEqual(stats["byState"], map[string]any{"suspended": 2.0}) ||
		stats["storeFileBytes"].(float64) <= 0 {
		t.Errorf("stats --json: %s", raw)
	}
	for _, live := range []string{"apps", "sessions", "heldBefore", "heldAfter", "openFds"} {
		if _, ok := stats[live]; ok {
			t.Errorf("stats --json has %q, which only a supervisor knows: %s", live, raw)
		}
	}
}

// hasRow checks that some line of a table starts with these fields.
func hasRow(t *testing.T, table string, fields ...string) {
	t.Helper()
	for line := range strings.Lines(table) {
		if got := strings.Fields(line); len(got) >= len(fields) && reflect.DeepEqual(got[:len(fields)], fields) {
			return
		}
	}
	t.Errorf("no row %q in\n%s", fields, table)
}

// decodeJSON runs migratectl with args, checks it printed one JSON document
// and the notice, decodes it into v and returns it.
func decodeJSON(t *testing.T, f *storeFixture, v any, args ...string) string {
	t.Helper()
	code, out, errOut := f.run(args...)
	if code != exitOK || errOut != f.notice() {
		t.Fatalf("%v: exit %d, stderr %q", args, code, errOut)
	}
	if err := json.Unmarshal([]byte(out), v); err != nil {
		t.Fatalf("%v: %v in %q", args, err, out)
	}
	return out
}

func TestStoreShowUnknownContinuation(t *testing.T) {
	f := newStoreFixture(t)
	code, out, errOut := f.run("show", "999")
	if want := f.notice() + "migratectl: continuation 999 not found\n"; code != exitFail || out != "" || errOut != want {
		t.Errorf("exit %d, stdout %q, stderr %q; want 1, nothing, %q", code, out, errOut, want)
	}
}

func TestLockedStoreNamesItsHolder(t *testing.T) {
	f := newStoreFixture(t)
	// A writer holds the store's lock, as migrated does while it runs;
	// flock locks belong to the open file, so this process's own writer
	// conflicts with the reader migratectl opens.
	st, err := contstore.Open(f.path, contstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	comm, err := os.ReadFile("/proc/self/comm")
	if err != nil {
		t.Fatal(err)
	}
	want := "migratectl: the store " + f.path + " is locked by pid " + strconv.Itoa(os.Getpid()) +
		" (" + strings.TrimSpace(string(comm)) + ") but its socket " + f.sock + " does not answer\n"
	for _, args := range [][]string{{"list"}, {"show", "1"}, {"sessions"}, {"--json", "stats"}} {
		code, out, errOut := f.run(args...)
		if code != exitFail || out != "" || errOut != want {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want 1, nothing, %q", args, code, out, errOut, want)
		}
	}
}

func TestMissingStoreIsAnError(t *testing.T) {
	dir, sock := t.TempDir(), filepath.Join(t.TempDir(), "none.sock")
	code, out, errOut := migratectl("--socket", sock, "--state-dir", dir, "list")
	want := "migratectl: no supervisor at " + sock + " and no store at " + filepath.Join(dir, "migrate.db") +
		" (see --socket and --state-dir)\n"
	if code != exitFail || out != "" || errOut != want {
		t.Errorf("exit %d, stdout %q, stderr %q; want 1, nothing, %q", code, out, errOut, want)
	}
	if _, err := os.Stat(filepath.Join(dir, "migrate.db")); !os.IsNotExist(err) {
		t.Errorf("reading a missing store created it: %v", err)
	}
}

func TestActingCommandsStillNeedASupervisor(t *testing.T) {
	f := newStoreFixture(t)
	want := "migratectl: no supervisor at " + f.sock + " (is migrated or migrate-run running?)\n"
	for _, args := range [][]string{{"suspend", "1"}, {"resume", "1"}, {"drop", "1"}, {"gc"}, {"apps"},
		{"services"}, {"status", "web"}, {"start", "web"}, {"stop", "web"}, {"restart", "web"}, {"reload"}} {
		code, out, errOut := f.run(args...)
		if code != exitFail || out != "" || errOut != want {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want 1, nothing, %q", args, code, out, errOut, want)
		}
	}
}
