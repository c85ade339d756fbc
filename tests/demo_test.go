package tests

import (
	"context"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/migrate-run/migrate/contstore"
	"github.com/migrate-run/migrate/supervisor"
)

// client is a counter-client process: its exit status and output arrive on
// done.
type client struct {
	cmd  *exec.Cmd
	out  strings.Builder
	done chan error
}

func startClient(t *testing.T, addr string, count int) *client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	c := &client{done: make(chan error, 1)}
	c.cmd = exec.CommandContext(ctx, binPath(t, "counter-client"), "--addr", addr, "--count", strconv.Itoa(count))
	c.cmd.Stdout, c.cmd.Stderr = &c.out, &c.out
	if err := c.cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	go func() { c.done <- c.cmd.Wait(); cancel() }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-c.done:
			c.done <- err
		case <-time.After(10 * time.Second):
			t.Error("counter-client outlived its context by 10s")
		}
	})
	return c
}

// wait waits for the client to exit and returns its output and exit error.
func (c *client) wait(t *testing.T) (string, error) {
	t.Helper()
	select {
	case err := <-c.done:
		c.done <- err
		return c.out.String(), err
	case <-time.After(2 * time.Minute):
		t.Fatal("counter-client did not finish within 2 minutes")
		return "", nil
	}
}

// waitSessions polls migratectl sessions until there are n live ones.
func (d *daemon) waitSessions(n int) []supervisor.SessionInfo {
	d.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var live []supervisor.SessionInfo
		for _, s := range d.sessions() {
			if s.State == "active" {
				live = append(live, s)
			}
		}
		if len(live) == n {
			return live
		}
		if time.Now().After(deadline) {
			d.t.Fatalf("%d active sessions after 30s, want %d: %+v", len(live), n, live)
		}
		time.Sleep(20 * time.Millisecond) // registration is the app's business: nothing to wait on
	}
}

// TestDemoFlow is make demo as a test: a client's session is suspended
// (its process exits, the supervisor holds the connection), shown, resumed
// in a fresh process whose MIGRATE_PID is the old pid, and the client sees
// no gap or duplicate.
func TestDemoFlow(t *testing.T) {
	d := startDaemon(t)
	_, addr := d.counterApp("counter", 5*time.Millisecond)
	c := startClient(t, addr, 600)
	sess := d.waitSessions(1)[0]
	oldPID := sess.PID
	if sess.App != "counter" || sess.Handler != "complete" || sess.Conn.Local != addr {
		t.Fatalf("session %+v: want app counter, a complete handler, the connection to %s", sess, addr)
	}

	var sus struct{ Continuations []contstore.ID }
	d.ctlJSON(&sus, "suspend", sess.ID.String())
	if len(sus.Continuations) != 1 {
		t.Fatalf("suspend returned %v, want one continuation", sus.Continuations)
	}
	id := sus.Continuations[0]
	waitGone(t, oldPID)
	select {
	case err := <-c.done:
		t.Fatalf("the client ended while its session was suspended: %v\n%s", err, c.out.String())
	default:
	}

	list := d.conts()
	if len(list) != 1 || list[0].ID != id || list[0].State != contstore.StateSuspended || list[0].OldPID != oldPID ||
		list[0].Kind != contstore.KindComplete || list[0].Session != sess.ID {
		t.Fatalf("list %+v: want continuation %v of session %v, suspended, complete, old pid %d", list, id, sess.ID, oldPID)
	}
	var show struct{ Continuation supervisor.ContInfo }
	d.ctlJSON(&show, "show", id.String())
	ci := show.Continuation
	if ci.FDsBefore < 1 || ci.FDsAfter < 1 || ci.FDsAfter > ci.FDsBefore || len(ci.Held) != ci.FDsAfter {
		t.Errorf("show: %d descriptors before collapse, %d after, held %v: want at least one held, no more than given",
			ci.FDsBefore, ci.FDsAfter, ci.Held)
	}
	if ci.StoreRawBytes <= 0 || len(ci.Store) != 1 || ci.Store[0].Key != "next" {
		t.Errorf("show: store %+v of %d bytes, want the one key next", ci.Store, ci.StoreRawBytes)
	}
	if len(ci.Slots) != 1 || ci.Slots[0].Desc.Local != addr || ci.Slots[0].Desc.Peer != sess.Conn.Peer || ci.Slots[0].HeldFD < 0 {
		t.Errorf("show: slots %+v, want the held connection %s -> %s", ci.Slots, addr, sess.Conn.Peer)
	}
	if human, err := d.ctl("show", id.String()); err != nil || !strings.Contains(human, "in continuation") {
		t.Errorf("migratectl show: %v\n%s", err, human)
	}
	if comp, err := d.ctl("__complete", "resume", ""); err != nil || !strings.HasPrefix(comp, id.String()+"\tcounter, session "+sess.ID.String()+", suspended\n") {
		t.Errorf("shell completion of resume offers %q (%v), want continuation %v", comp, err, id)
	}

	var res struct{ PID int }
	d.ctlJSON(&res, "resume", id.String())
	if res.PID == 0 || res.PID == oldPID {
		t.Fatalf("resumed in pid %d, want a fresh process (old %d)", res.PID, oldPID)
	}
	env := environ(t, res.PID)
	if env["MIGRATE_PID"] != strconv.Itoa(oldPID) || env["MIGRATE_CONT_ID"] != id.String() {
		t.Errorf("resumed process has MIGRATE_PID=%q MIGRATE_CONT_ID=%q, want %d and %v",
			env["MIGRATE_PID"], env["MIGRATE_CONT_ID"], oldPID, id)
	}
	now := d.waitSessions(1)[0]
	if now.ID != sess.ID || now.PID != res.PID {
		t.Errorf("after resume: session %v in pid %d, want session %v in pid %d", now.ID, now.PID, sess.ID, res.PID)
	}

	out, err := c.wait(t)
	if err != nil || out != "ok: received 600 numbers, last 600, no gap or duplicate\n" {
		t.Fatalf("counter-client: %v\n%s", err, out)
	}
	for _, ci := range d.conts() {
		if ci.ID == id && ci.State != contstore.StateResumed {
			t.Errorf("continuation %v is %s after the resume, want resumed (or gone)", id, ci.State)
		}
	}
}
