package tests

import (
	"context"
	"encoding/json"
	"errors"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/migrate-run/migrate/contstore"
	"github.com/migrate-run/migrate/supervisor"
)

// ctlAt runs migratectl on socket sock and state directory state and
// returns its exit status, stdout and stderr.
func ctlAt(t *testing.T, sock, state string, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binPath(t, "migratectl"), append([]string{"--socket", sock, "--state-dir", state}, args...)...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		return exit.ExitCode(), stdout.String(), stderr.String()
	case err != nil:
		t.Fatalf("migratectl %s: %v", strings.Join(args, " "), err)
	}
	return 0, stdout.String(), stderr.String()
}

// TestInspectsTheStoreWithoutTheDaemon suspends a counter session, checks
// that while migrated runs its store is locked and migratectl says by whom,
// stops migrated with SIGTERM, and reads the continuation from the store.
func TestInspectsTheStoreWithoutTheDaemon(t *testing.T) {
	d := startDaemon(t)
	_, addr := d.counterApp("counter", 5*time.Millisecond)
	startClient(t, addr, 100000) // its session outlives the test; the client fails when migrated stops
	sess := d.waitSessions(1)[0]
	var sus struct{ Continuations []contstore.ID }
	d.ctlJSON(&sus, "suspend", sess.ID.String())
	if len(sus.Continuations) != 1 {
		t.Fatalf("suspend returned %v, want one continuation", sus.Continuations)
	}
	id := sus.Continuations[0]
	waitGone(t, sess.PID)
	path := filepath.Join(d.state, supervisor.StoreFile)

	// Running, migrated holds the store: a migratectl aimed at another
	// socket is told who holds it.
	none := filepath.Join(t.TempDir(), "none.sock")
	code, out, errOut := ctlAt(t, none, d.state, "list")
	want := "migratectl: the store " + path + " is locked by pid " + strconv.Itoa(d.pid()) +
		" (migrated) but its socket " + none + " does not answer\n"
	if code != 1 || out != "" || errOut != want {
		t.Errorf("list beside a running migrated: exit %d, stdout %q, stderr %q; want 1, nothing, %q", code, out, errOut, want)
	}

	if err := d.stop(); err != nil {
		t.Fatal(err)
	}
	notice := "migratectl: no supervisor at " + d.sock + "; read from the store " + path + " (read-only)\n"
	code, out, errOut = ctlAt(t, d.sock, d.state, "list")
	if code != 0 || errOut != notice {
		t.Fatalf("list without migrated: exit %d, stderr %q; want 0 and %q", code, errOut, notice)
	}
	row := []string{id.String(), "counter", sess.ID.String(), "complete", "suspended", strconv.Itoa(sess.PID)}
	found := false
	for line := range strings.Lines(out) {
		if f := strings.Fields(line); len(f) >= len(row) && strings.Join(f[:len(row)], " ") == strings.Join(row, " ") {
			found = true
		}
	}
	if !found {
		t.Errorf("list without migrated lacks the row %q:\n%s", row, out)
	}

	code, out, errOut = ctlAt(t, d.sock, d.state, "--json", "show", id.String())
	if code != 0 || errOut != notice {
		t.Fatalf("show without migrated: exit %d, stderr %q", code, errOut)
	}
	var show struct{ Continuation supervisor.ContInfo }
	if err := json.Unmarshal([]byte(out), &show); err != nil {
		t.Fatalf("show --json printed %q: %v", out, err)
	}
	ci := show.Continuation
	if ci.ID != id || ci.State != contstore.StateSuspended || ci.OldPID != sess.PID || len(ci.Store) != 1 || ci.Store[0].Key != "next" {
		t.Errorf("show without migrated: %+v, want continuation %v, suspended, old pid %d, the key next", ci, id, sess.PID)
	}
	if len(ci.Slots) != 1 || ci.Slots[0].Desc.Local != addr || ci.Slots[0].HeldFD != -1 || ci.Held != nil {
		t.Errorf("show without migrated: slots %+v, held %v; want the connection to %s, held by nobody", ci.Slots, ci.Held, addr)
	}
}
