package supervisor

import (
	"context"
	"errors"
	"fmt"
	"os"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/migrate-run/migrate/contstore"
	"github.com/migrate-run/migrate/proto"
)

// Two slots of one socket collapse to one held descriptor, and the fresh
// process finds the socket at both numbers again.
func TestCollapseRestoresBoth(t *testing.T) {
	h := newHarness(t, nil)
	app := h.startApp("twice", kindEnv+"=dups")
	cl := dialApp(t, app.expect("listening")[0])
	sid := contstore.SessionID(atou(t, app.expect("registered")[1]))
	cl.expectRun(0, 1)
	cont := suspendAcked(t, h, app, sid)
	info, err := h.s.Show(cont, false)
	if err != nil || info.FDsBefore != 2 || info.FDsAfter != 1 || len(info.Held) != 1 ||
		info.Slots[0].Held != 0 || info.Slots[1].Held != 0 {
		t.Fatalf("Show: %+v, %v; want 2 slots held as 1", info, err)
	}
	<-waitExit(t, h, app.app)
	if _, err := h.s.Resume(context.Background(), cont); err != nil {
		t.Fatalf("Resume: %v", err)
	}
	if got := app.expect("dup"); got[0] != "OK" {
		t.Fatal("the second slot was not restored as the same socket")
	}
	app.expect("resumed")
	cl.expectRun(1, 1)
}

// A complete continuation asking for credentials its process does not have
// is refused: nothing is stored, the app keeps its session.
func TestExecCredentialsRefused(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: runs the app as uid 65534")
	}
	h := newHarness(t, nil)
	openSocket(h) // the app runs as another uid than the supervisor
	app := h.startAppSpec(AppSpec{Name: "liar", Args: []string{copyExecutable(t), "-test.run=^$"}, Cwd: "/",
		Env:  []string{helperEnv + "=app", kindEnv + "=liar", "PATH=/usr/bin:/bin"},
		User: &specs.User{UID: 65534, GID: 65534}})
	cl := dialApp(t, app.expect("listening")[0])
	sid := contstore.SessionID(atou(t, app.expect("registered")[1]))
	_, err := h.s.Suspend(context.Background(), sid, proto.ReasonOperator)
	if !errors.Is(err, ErrPermission) {
		t.Fatalf("Suspend asking for root: %v, want ErrPermission", err)
	}
	if got := app.expect("refused"); got[1] != fmt.Sprint(int(proto.CodePermissionDenied)) {
		t.Fatalf("app got %v, want permission-denied", got)
	}
	if st, _ := h.s.store.Stats(); st.Continuations != 0 {
		t.Fatalf("%d continuations stored", st.Continuations)
	}
	cl.expectRun(0, 1)
}
