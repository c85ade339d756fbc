package supervisor

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/migrate-run/migrate/contstore"
	"github.com/migrate-run/migrate/launcher"
	"github.com/migrate-run/migrate/proto"
)

// A process of another app can neither retrieve, write, resume, close nor
// re-register someone else's session or continuation, whatever ids it
// names: each request is answered permission-denied, with a message that
// does not name the other app, and changes nothing.
func TestOtherAppDenied(t *testing.T) {
	h := newHarness(t, nil)
	victim := h.startApp("victim", kindEnv+"=internal")
	dialApp(t, victim.expect("listening")[0])
	live := atou(t, victim.expect("registered")[1])
	cont := suspendAcked(t, h, victim, contstore.SessionID(live))
	statsBefore, _ := h.s.store.Stats()
	heldBefore, _ := h.s.heldTotals()

	probes := []string{
		fmt.Sprintf("retrieve:%d", cont), fmt.Sprintf("resumed:%d", cont), fmt.Sprintf("store:%d", live),
		fmt.Sprintf("close:%d", live), fmt.Sprintf("returncont:%d", live), fmt.Sprintf("getsession-cont:%d", cont),
	}
	thief := h.startAppMode("thief", "probe", probeEnv+"="+strings.Join(probes, ","))
	for _, p := range probes {
		name, _, _ := strings.Cut(p, ":")
		got := thief.expect("probe")
		if got[0] != name || got[1] != fmt.Sprint(int(proto.CodePermissionDenied)) {
			t.Errorf("probe %s answered %v, want permission-denied (%d)", name, got, proto.CodePermissionDenied)
		}
		if msg := strings.Join(got[2:], " "); msg == "" || strings.Contains(msg, "victim") {
			t.Errorf("probe %s was refused with %q: it must say why without naming app victim", name, msg)
		}
	}
	statsAfter, _ := h.s.store.Stats()
	heldAfter, _ := h.s.heldTotals()
	if statsAfter.TxID != statsBefore.TxID || heldAfter != heldBefore {
		t.Fatalf("refused requests changed something: commits %d→%d, held %d→%d",
			statsBefore.TxID, statsAfter.TxID, heldBefore, heldAfter)
	}
	if rec, _ := h.s.store.Get(cont); rec.State != contstore.StateSuspended {
		t.Fatalf("victim's continuation is %s", rec.State)
	}
}

// A peer that belongs to no app and runs as neither the supervisor's uid
// nor root is refused on its first message.
func TestForeignUIDRefused(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: starts a helper as uid 65534")
	}
	h := newHarness(t, nil)
	// Let uid 65534 reach the socket, so the supervisor, not the file
	// mode, refuses it.
	openSocket(h)
	exe := copyExecutable(t)
	outR, outW := pipe(t)
	null, _ := unix.Open(os.DevNull, unix.O_RDWR|unix.O_CLOEXEC, 0)
	p, err := launcher.Start(launcher.Spec{
		Process: &specs.Process{Args: []string{exe, "-test.run=^$"}, Cwd: "/",
			Env:  []string{helperEnv + "=probe", probeEnv + "=admin", "MIGRATE_SOCKET=" + h.cfg.Socket},
			User: specs.User{UID: 65534, GID: 65534}},
		Files: []launcher.FD{{Target: 0, FD: null}, {Target: 1, FD: outW}, {Target: 2, FD: outW}},
	})
	unix.Close(null)
	unix.Close(outW)
	out := os.NewFile(uintptr(outR), "out")
	defer out.Close()
	if err != nil {
		t.Fatalf("start foreign helper: %v", err)
	}
	_ = p.Release() // the supervisor's reaper reaps it
	b, _ := io.ReadAll(out)
	// The refusal answers Hello, the helper's first message, and closes
	// the connection: the helper reports the code, then its reader sees the
	// end and it exits.
	if want := fmt.Sprintf("hello %d\n", proto.CodePermissionDenied); string(b) != want {
		t.Fatalf("foreign peer's output %q, want %q", b, want)
	}
	if n := len(h.s.Sessions("")); n != 0 {
		t.Fatalf("%d sessions after a refused peer", n)
	}
}

// openSocket lets every user reach the control socket (0600 by default).
func openSocket(h *harness) {
	for dir := filepath.Dir(h.cfg.Socket); dir != os.TempDir() && dir != "/"; dir = filepath.Dir(dir) {
		_ = os.Chmod(dir, 0o755)
	}
	_ = os.Chmod(h.cfg.Socket, 0o666)
}

// copyExecutable copies the test binary where any user may run it.
func copyExecutable(t *testing.T) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	_ = os.Chmod(dir, 0o755)
	_ = os.Chmod(filepath.Dir(dir), 0o755)
	path := filepath.Join(dir, "helper")
	if err := os.WriteFile(path, b, 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

// Malformed records and wrong descriptor counts from an app are answered
// with the matching Error and change nothing.
func TestMalformedRefused(t *testing.T) {
	h := newHarness(t, nil)
	want := map[string]proto.ErrorCode{
		"badversion": proto.CodeBadVersion, "fdmismatch": proto.CodeFDCountMismatch,
		"extrafd": proto.CodeFDCountMismatch, "twofds": proto.CodeFDCountMismatch,
		"attachsession": proto.CodeBadMessage, "unknowntype": proto.CodeNotSupported,
		"zerocont": proto.CodeBadMessage, "truncated": proto.CodeBadMessage,
		"admin": proto.CodePermissionDenied, "resumed": proto.CodeUnknownContinuation,
	}
	var probes []string
	for name := range want {
		probes = append(probes, name+":77")
	}
	fdsBefore := openFDs(t)
	statsBefore, _ := h.s.store.Stats()
	app := h.startAppMode("fuzzy", "probe", probeEnv+"="+strings.Join(probes, ","))
	for range probes {
		got := app.expect("probe")
		if code := want[got[0]]; got[1] != fmt.Sprint(int(code)) {
			t.Errorf("probe %s answered %s, want %v (%d)", got[0], got[1], code, code)
		}
	}
	<-waitExit(t, h, app.app)
	statsAfter, _ := h.s.store.Stats()
	if statsAfter.TxID != statsBefore.TxID {
		t.Errorf("refused records committed %d transactions", statsAfter.TxID-statsBefore.TxID)
	}
	// The test's two pipe ends, the app's held stdio, its listener and its
	// notify socket are the only new descriptors.
	waitFDs(t, fdsBefore+7)
}

// waitFDs waits until the test process has want descriptors open: a
// connection's goroutine closes its socket just after the peer leaves.
func waitFDs(t testing.TB, want int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for openFDs(t) != want {
		if time.Now().After(deadline) {
			t.Fatalf("%d descriptors open, want %d: %s", openFDs(t), want, fdList())
		}
		time.Sleep(10 * time.Millisecond) // nothing signals a close
	}
}

// An app registers a compatibility vector per version and reads it back;
// an unregistered version is unknown-key.
func TestCompatRegistry(t *testing.T) {
	h := newHarness(t, nil)
	app := h.startAppMode("compat", "probe", probeEnv+"=compatreg:1,compatget:1,compatget:2")
	for _, want := range []string{"0", "0", fmt.Sprint(int(proto.CodeUnknownKey))} {
		if got := app.expect("probe"); got[1] != want {
			t.Fatalf("probe %s answered %s, want %s", got[0], got[1], want)
		}
	}
	if tags, err := h.s.store.GetCompat("compat@1"); err != nil || len(tags) != 1 {
		t.Fatalf("stored vector %v, %v", tags, err)
	}
}
