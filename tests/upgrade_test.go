package tests

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/migrate-run/migrate/contstore"
	"github.com/migrate-run/migrate/examples/broadcast/line"
	"github.com/migrate-run/migrate/examples/counter/streamcheck"
)

// upInterval is counter-server's pause between two lines in the upgrade
// tests.
const upInterval = "20ms"

// TestUpgradeHundredCounterSessions upgrades counter-server from version 1
// to a rebuilt version 2 under 100 live sessions, each streaming to a
// client of the test's that checks every line, while new clients keep
// connecting:
//
//   - every client, having received lines from v1, goes on receiving them
//     from v2, with no number lost or repeated;
//   - the report says every one of the 100 sessions was upgraded (resumed
//     in a fresh process of the new program), none fell back or failed;
//   - the main process is a new one, running the v2 binary;
//   - no connection made during the upgrade is refused or fails: each is
//     served its first line.
func TestUpgradeHundredCounterSessions(t *testing.T) {
	const n = 100
	v1 := binPath(t, "counter-server")
	v2 := buildVariant(t, "./examples/counter/cmd/counter-server", "counter-server-v2", "version=2")
	a := runUpgradable(t, "counter", v1, "--interval", upInterval)
	oldMain := a.mainPID()
	streams := dialCounters(t, a.addr, n)
	clientSession := map[contstore.SessionID]bool{}
	for _, s := range a.sup.waitSessions(n) {
		clientSession[s.ID] = true
	}

	type connects struct {
		loadResult
		first []string
	}
	ctx, cancel := context.WithCancel(context.Background())
	load := make(chan connects, 1)
	go func() {
		r, first := connectsDuring(ctx, a.addr, 50*time.Millisecond)
		load <- connects{r, first}
	}()
	stopConnects := sync.OnceValue(func() connects { cancel(); return <-load })
	t.Cleanup(func() { stopConnects() })
	up := a.upgrade(true, v2)
	during := stopConnects()
	if up.code != 0 {
		t.Fatalf("migratectl upgrade: exit %d: %s%s", up.code, up.stdout, up.stderr)
	}
	r := up.report
	t.Logf("upgrade of %d sessions (and %d connected meanwhile): %v in the supervisor, %v around migratectl",
		n, r.Upgraded-n, r.Took.Round(time.Millisecond), up.wall.Round(time.Millisecond))

	// The report.
	if r.FellBack != 0 || r.Failed != 0 || r.Upgraded < n || r.Upgraded != len(r.Sessions) {
		t.Errorf("report: %d upgraded, %d fell back, %d failed of %d sessions; want all upgraded", r.Upgraded, r.FellBack, r.Failed, len(r.Sessions))
	}
	upgraded := 0
	for _, s := range r.Sessions {
		if s.Binary != "new" || s.Kind != contstore.KindComplete || s.PID == 0 || s.Error != "" {
			t.Errorf("report's session %+v: want a complete continuation resumed in a fresh process of the new program", s)
		}
		if clientSession[s.Session] {
			upgraded++
		}
	}
	if upgraded != n {
		t.Errorf("%d of the %d clients' sessions in the report", upgraded, n)
	}
	if r.Exec != v2 || r.Previous != v1 || r.Version != "2" {
		t.Errorf("report: %s -> %s, version %q; want %s -> %s checked against version 2", r.Previous, r.Exec, r.Version, v1, v2)
	}

	// The main process.
	newMain := a.mainPID()
	if r.OldPID != oldMain || r.NewPID != newMain || newMain == oldMain {
		t.Errorf("main process %d -> %d in the report, %d -> %d by status; want a new one", r.OldPID, r.NewPID, oldMain, newMain)
	}
	if got := exe(t, newMain); got != v2 {
		t.Errorf("the new main process %d runs %s, want %s", newMain, got, v2)
	}

	// The connections made meanwhile.
	t.Logf("connections during the upgrade: %d served, %d refused, other failures %v", during.OK, during.Refused, during.Other)
	if during.OK == 0 || during.Refused != 0 || len(during.Other) != 0 {
		t.Errorf("connections during the upgrade: %d served, %d refused, %v failed otherwise; want all served", during.OK, during.Refused, during.Other)
	}
	for _, l := range during.first {
		if l != "1" && l != "1 v2" {
			t.Errorf("a connection made during the upgrade read %q first, want 1 (from v1 or v2)", l)
		}
	}

	// The clients.
	waitAll(t, streams, "a line from v2", func(_ uint64, vs []string) bool { return slices.Equal(vs, []string{"v1", "v2"}) })
}

// TestUpgradeCompatMismatchAborts upgrades counter-server to a build whose
// continuation state format differs (stateFormat=2, so its compat vector
// has state-format "2" where every continuation carries "1"): migratectl
// exits 1 naming the tag, and everything is back under version 1 — a main
// process of the v1 binary, every session live again in a process of the
// v1 binary with no continuation left suspended, and every client
// streaming on, served by v1 alone with no gap.
func TestUpgradeCompatMismatchAborts(t *testing.T) {
	const n = 5
	v1 := binPath(t, "counter-server")
	bad := buildVariant(t, "./examples/counter/cmd/counter-server", "counter-server-v3", "version=3", "stateFormat=2")
	a := runUpgradable(t, "counter", v1, "--interval", upInterval)
	oldMain := a.mainPID()
	streams := dialCounters(t, a.addr, n)
	a.sup.waitSessions(n)

	up := a.upgrade(false, bad)
	if up.code != 1 || up.stdout != "" {
		t.Errorf("migratectl upgrade: exit %d, stdout %q; want 1 and nothing", up.code, up.stdout)
	}
	want := `migratectl: upgrade counter: aborted, everything is back under ` + v1 +
		`: compat tag 1 (state-format) is "1" in continuation `
	if !strings.HasPrefix(up.stderr, want) || !strings.HasSuffix(up.stderr, `, version 3 has "2"`+"\n") {
		t.Errorf("migratectl upgrade said %q, want %q... version 3 has \"2\"", up.stderr, want)
	}

	back := a.mainPID()
	if back == oldMain || back == 0 {
		t.Errorf("main process %d after the abort (%d before): want a fresh one", back, oldMain)
	} else if got := exe(t, back); got != v1 {
		t.Errorf("the main process after the abort runs %s, want %s", got, v1)
	}
	for _, s := range a.sup.waitSessions(n) {
		if got := exe(t, s.PID); got != v1 {
			t.Errorf("session %v runs in pid %d of %s, want %s", s.ID, s.PID, got, v1)
		}
	}
	conts := a.sup.conts()
	for _, c := range conts {
		if c.State != contstore.StateResumed {
			t.Errorf("continuation %v is %s after the abort, want resumed", c.ID, c.State)
		}
	}
	if len(conts) != n {
		t.Errorf("%d continuations, want the %d of the suspended sessions", len(conts), n)
	}
	waitMore(t, streams, 25)
	for i, s := range streams {
		if _, vs, err := s.state(); err != nil || !slices.Equal(vs, []string{"v1"}) {
			t.Errorf("client %d: served by %v, %v; want v1 alone", i, vs, err)
		}
	}
}

// TestUpgradeFallsBackPerSession upgrades counter-server to a program that
// starts as a listener (it runs version 2) but cannot resume a session
// (its "serve" mode exits 1): every session's fresh process under the new
// program fails, and each is resumed under the old program instead.
// migratectl reports that and exits 1; the clients stream on with no gap,
// served by v1 alone; the new main process serves new clients with v2.
func TestUpgradeFallsBackPerSession(t *testing.T) {
	const n = 5
	v1 := binPath(t, "counter-server")
	v2 := buildVariant(t, "./examples/counter/cmd/counter-server", "counter-server-v2", "version=2")
	wrapper := writeScript(t, "counter-server-noresume", `if [ "$1" = serve ]; then echo "this build cannot take over a session" >&2; exit 1; fi
exec `+v2+` "$@"`)
	a := runUpgradable(t, "counter", v1, "--interval", upInterval)
	streams := dialCounters(t, a.addr, n)
	sessions := a.sup.waitSessions(n)

	up := a.upgrade(false, wrapper)
	if up.code != 1 {
		t.Errorf("migratectl upgrade: exit %d, want 1", up.code)
	}
	if want := fmt.Sprintf("migratectl: upgrade counter: %d sessions not under the new program\n", n); up.stderr != want {
		t.Errorf("migratectl upgrade said %q on stderr, want %q", up.stderr, want)
	}
	rows := upgradeRows(t, up.stdout)
	if len(rows) != n {
		t.Fatalf("migratectl upgrade printed %d sessions, want %d:\n%s", len(rows), n, up.stdout)
	}
	for _, s := range sessions {
		row := rows[s.ID.String()]
		if row == nil || row["PROGRAM"] != "old" || row["ERROR"] != "-" {
			t.Errorf("session %v: row %v, want resumed under the old program", s.ID, row)
		}
	}
	if !strings.Contains(up.stdout, fmt.Sprintf("\n0 sessions upgraded, %d resumed under the old program, 0 not upgraded, in ", n)) {
		t.Errorf("migratectl upgrade printed:\n%s\nwant 0 upgraded, %d resumed under the old program", up.stdout, n)
	}
	for _, s := range a.sup.waitSessions(n) {
		if got := exe(t, s.PID); got != v1 {
			t.Errorf("session %v runs in pid %d of %s, want the old program %s", s.ID, s.PID, got, v1)
		}
	}
	if got := exe(t, a.mainPID()); got != v2 {
		t.Errorf("the main process runs %s, want %s (exec'd by the new program)", got, v2)
	}
	conn, first, outcome := connectFirstLine(a.addr)
	if outcome != outcomeOK || first != "1 v2" {
		t.Errorf("a new client: %s, first line %q; want 1 v2", outcome, first)
	}
	if conn != nil {
		conn.Close()
	}
	waitMore(t, streams, 25)
	for i, s := range streams {
		if _, vs, err := s.state(); err != nil || !slices.Equal(vs, []string{"v1"}) {
			t.Errorf("client %d: served by %v, %v; want v1 alone", i, vs, err)
		}
	}
}

// dialCounters connects n clients of the test's to a counter-server and
// waits until each has a line.
func dialCounters(t *testing.T, addr string, n int) []*vstream {
	t.Helper()
	streams := make([]*vstream, n)
	for i := range streams {
		streams[i] = dialVersioned(t, addr, streamcheck.Counter)
	}
	waitAll(t, streams, "a line from v1", func(got uint64, _ []string) bool { return got > 0 })
	return streams
}

// TestUpgradeBroadcast upgrades broadcast-server, whose sessions are
// internal continuations in its one process: the new program's main
// process takes every session back through its attach handler and its
// source goes on from where the old one's clients were. Every client,
// having received lines from v1, goes on receiving them from v2 with no
// gap; the report says each session was upgraded without a process of
// its own; afterwards every session lives in the new main process, which
// runs the v2 binary.
func TestUpgradeBroadcast(t *testing.T) {
	const n = 5
	v2 := buildVariant(t, "./examples/broadcast/cmd/broadcast-server", "broadcast-server-v2", "version=2")
	a := runUpgradable(t, "broadcast", binPath(t, "broadcast-server"), "--interval", "10ms")
	oldMain := a.mainPID()
	streams := make([]*vstream, n)
	for i := range streams {
		streams[i] = dialVersioned(t, a.addr, line.Format)
	}
	a.sup.waitSessions(n)
	waitAll(t, streams, "a line from v1", func(got uint64, _ []string) bool { return got > 0 })

	up := a.upgrade(true, v2)
	if up.code != 0 {
		t.Fatalf("migratectl upgrade: exit %d: %s%s", up.code, up.stdout, up.stderr)
	}
	r := up.report
	t.Logf("upgrade of %d internal sessions: %v in the supervisor, %v around migratectl", n, r.Took.Round(time.Millisecond), up.wall.Round(time.Millisecond))
	if r.Upgraded != n || r.FellBack != 0 || r.Failed != 0 || r.Version != "2" {
		t.Errorf("report: %d upgraded, %d fell back, %d failed, version %q; want %d upgraded against version 2", r.Upgraded, r.FellBack, r.Failed, r.Version, n)
	}
	for _, s := range r.Sessions {
		if s.Kind != contstore.KindInternal || s.PID != 0 || s.Binary != "new" {
			t.Errorf("report's session %+v: want an internal continuation attached to the new program", s)
		}
	}
	newMain := a.mainPID()
	if newMain == oldMain || r.NewPID != newMain {
		t.Errorf("main process %d -> %d (report: %d -> %d), want a new one", oldMain, newMain, r.OldPID, r.NewPID)
	}
	if got := exe(t, newMain); got != v2 {
		t.Errorf("the new main process runs %s, want %s", got, v2)
	}
	for _, s := range a.sup.waitSessions(n) {
		if s.PID != newMain {
			t.Errorf("session %v lives in pid %d, want the new main process %d", s.ID, s.PID, newMain)
		}
	}
	waitAll(t, streams, "a line from v2", func(_ uint64, vs []string) bool { return slices.Equal(vs, []string{"v1", "v2"}) })
}

// upgradeRows parses the session table migratectl upgrade prints: its
// rows by session id, each a map from column title to cell.
func upgradeRows(t *testing.T, out string) map[string]map[string]string {
	t.Helper()
	cols := regexp.MustCompile(`\s{2,}`) // tabwriter pads with at least two spaces
	var header []string
	rows := map[string]map[string]string{}
	for _, l := range strings.Split(out, "\n") {
		cells := cols.Split(strings.TrimRight(l, " "), -1)
		switch {
		case len(cells) > 0 && cells[0] == "SESSION":
			header = cells
		case header != nil && len(cells) == len(header):
			row := map[string]string{}
			for i, h := range header {
				row[h] = cells[i]
			}
			rows[cells[0]] = row
		}
	}
	return rows
}

// writeScript writes an executable shell script into a directory of t's.
func writeScript(t *testing.T, name, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}
