package supervisor

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/migrate-run/migrate/contstore"
	"github.com/migrate-run/migrate/proto"
)

// A complete continuation end to end: the app suspends its session, the
// record is committed before the app sees Ack, the old process exits, a
// fresh one gets the connection at the same number with MIGRATE_CONT,
// MIGRATE_PID and MIGRATE_CONT_ID, takes the store over, and the client
// sees no gap.
func TestSuspendResumeComplete(t *testing.T) {
	h := newHarness(t, nil)
	app := h.startApp("counter")
	cl := dialApp(t, app.expect("listening")[0])
	reg := app.expect("registered")
	sid := contstore.SessionID(atou(t, reg[1]))
	cl.expectRun(0, 3)
	oldPID := app.app.main.pid

	ctx := context.Background()
	done := make(chan []contstore.ID, 1)
	go func() {
		ids, err := h.s.Suspend(ctx, sid, proto.ReasonOperator)
		if err != nil {
			t.Errorf("Suspend: %v", err)
		}
		done <- ids
	}()
	acked := app.expect("acked")
	cont := contstore.ID(atou(t, acked[1]))
	rec, err := h.s.store.Get(cont) // the app waits: its Ack is all it has seen
	if err != nil || rec.State != contstore.StateSuspended || rec.OldPID != oldPID || rec.FDsAfter != 1 {
		t.Fatalf("at Ack the record is %+v, %v; want suspended, old pid %d, 1 held", rec, err, oldPID)
	}
	app.proceed()
	ids := <-done
	if len(ids) != 1 || ids[0] != cont {
		t.Fatalf("Suspend returned %v, want [%v]", ids, cont)
	}
	<-waitExit(t, h, app.app)

	res, err := h.s.Resume(ctx, cont)
	if err != nil {
		t.Fatalf("Resume: %v", err)
	}
	got := app.expect("resumed")
	wd, _ := os.Getwd()
	want := []string{strconv.FormatUint(uint64(cont), 10), reg[1], "3", strconv.Itoa(oldPID),
		strconv.Itoa(rec.Slots[0].Number), fmt.Sprintf("%016x", 1<<(unix.SIGUSR2-1)), wd}
	if !slicesEqual(got, want) {
		t.Fatalf("fresh process reports cont, session, next, MIGRATE_PID, MIGRATE_CONT, SigBlk, cwd = %v, want %v", got, want)
	}
	if res.PID == oldPID || res.PID == 0 {
		t.Fatalf("resumed in pid %d, old pid %d", res.PID, oldPID)
	}
	cl.expectRun(3, 3)
	if rec, _ := h.s.store.Get(cont); rec.State != contstore.StateResumed {
		t.Fatalf("after Resumed the record is %s", rec.State)
	}
	h.s.mu.Lock()
	held := len(h.s.held)
	h.s.mu.Unlock()
	if held != 0 {
		t.Fatalf("%d continuations still held after the resume", held)
	}
}

// waitExit returns a channel closed once the app's main process is reaped.
func waitExit(t *testing.T, h *harness, a *App) <-chan struct{} {
	t.Helper()
	h.s.mu.Lock()
	p := a.main
	h.s.mu.Unlock()
	ch := make(chan struct{})
	go func() {
		select {
		case <-p.exited:
		case <-time.After(20 * time.Second):
			t.Error("main process did not exit")
		}
		close(ch)
	}()
	return ch
}

func slicesEqual(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// An app may suspend on its own (ReturnCont without a request): the
// continuation is committed and acknowledged the same way.
func TestUnsolicitedReturnCont(t *testing.T) {
	h := newHarness(t, nil)
	app := h.startApp("eager", kindEnv+"=self")
	cl := dialApp(t, app.expect("listening")[0])
	app.expect("registered")
	cont := contstore.ID(atou(t, app.expect("acked")[1]))
	if rec, err := h.s.store.Get(cont); err != nil || rec.State != contstore.StateSuspended {
		t.Fatalf("unasked continuation: %+v, %v", rec, err)
	}
	app.proceed()
	<-waitExit(t, h, app.app)
	if _, err := h.s.Resume(context.Background(), cont); err != nil {
		t.Fatalf("Resume: %v", err)
	}
	app.expect("resumed")
	cl.expectRun(0, 2)
}

// A fresh process that dies before it confirms leaves the continuation
// suspended, its descriptors held, and a second resume succeeds.
func TestResumeRetriedAfterDeath(t *testing.T) {
	h := newHarness(t, nil)
	dieFile := filepath.Join(t.TempDir(), "die")
	app := h.startApp("phoenix", dieFileEnv+"="+dieFile)
	cl := dialApp(t, app.expect("listening")[0])
	sid := contstore.SessionID(atou(t, app.expect("registered")[1]))
	cl.expectRun(0, 2)
	cont := suspendAcked(t, h, app, sid)
	if err := os.WriteFile(dieFile, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := h.s.Resume(context.Background(), cont); !errors.Is(err, ErrNoProcess) {
		t.Fatalf("Resume with a dying process: %v, want ErrNoProcess", err)
	}
	if rec, _ := h.s.store.Get(cont); rec.State != contstore.StateSuspended {
		t.Fatalf("after the failed resume the record is %s, want suspended", rec.State)
	}
	if _, err := h.s.Resume(context.Background(), cont); err != nil {
		t.Fatalf("second Resume: %v", err)
	}
	app.expect("resumed")
	cl.expectRun(2, 2)
}

// Without cgroups, peers are told apart by ancestry: the app's processes,
// fresh ones included, are its own, and a process of another app is not.
func TestAncestryIdentity(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.NoCgroups = true })
	app := h.startApp("plain")
	cl := dialApp(t, app.expect("listening")[0])
	sid := contstore.SessionID(atou(t, app.expect("registered")[1]))
	cl.expectRun(0, 1)
	cont := suspendAcked(t, h, app, sid)
	<-waitExit(t, h, app.app)
	other := h.startAppMode("other", "probe", probeEnv+"=retrieve:"+cont.String())
	if got := other.expect("probe"); got[1] != strconv.Itoa(int(proto.CodePermissionDenied)) ||
		strings.Contains(strings.Join(got[2:], " "), "plain") {
		t.Fatalf("another app's retrieve answered %v, want permission-denied not naming app plain", got)
	}
	if _, err := h.s.Resume(context.Background(), cont); err != nil {
		t.Fatalf("Resume: %v", err)
	}
	app.expect("resumed")
	cl.expectRun(1, 1)
}

// A fresh process that never confirms is killed after the resume timeout;
// the continuation is suspended again and a second resume succeeds.
func TestResumeTimeout(t *testing.T) {
	// Long enough for the second, healthy resume's fresh process (the race
	// build of the test binary) to start and confirm on a loaded machine;
	// it was 300 ms and failed under load.
	h := newHarness(t, func(c *Config) { c.ResumeTimeout = 3 * time.Second })
	hangFile := filepath.Join(t.TempDir(), "hang")
	app := h.startApp("sleepy", hangFileEnv+"="+hangFile)
	cl := dialApp(t, app.expect("listening")[0])
	sid := contstore.SessionID(atou(t, app.expect("registered")[1]))
	cl.expectRun(0, 1)
	cont := suspendAcked(t, h, app, sid)
	if err := os.WriteFile(hangFile, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := h.s.Resume(context.Background(), cont); !errors.Is(err, ErrNoProcess) {
		t.Fatalf("Resume with a hanging process: %v, want ErrNoProcess", err)
	}
	if rec, _ := h.s.store.Get(cont); rec.State != contstore.StateSuspended {
		t.Fatalf("after the overdue resume the record is %s, want suspended", rec.State)
	}
	if _, err := h.s.Resume(context.Background(), cont); err != nil {
		t.Fatalf("second Resume: %v", err)
	}
	app.expect("resumed")
	cl.expectRun(1, 1)
}
