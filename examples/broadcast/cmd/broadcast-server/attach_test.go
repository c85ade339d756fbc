//go:build linux

package main

import (
	"strconv"
	"strings"
	"testing"

	"github.com/migrate-run/migrate/examples/counter/fakesup"
	"github.com/migrate-run/migrate/proto"
)

// TestOneClientSuspendsWhileTheOthersStreamOn plays the supervisor's part
// of an internal continuation: client A's session is suspended (the
// server hands over its connection and position), client B streams a
// whole run meanwhile, then the supervisor attaches A's session back and A
// is caught up with no gap.
func TestOneClientSuspendsWhileTheOthersStreamOn(t *testing.T) {
	sup := fakesup.Start(t)
	t.Setenv("MIGRATE_SOCKET", sup.Path)
	s := startServer(t, "--addr", "127.0.0.1:0", "--interval", "2ms")
	ctl := sup.Accept(t)
	expectCompat(t, ctl, "1")
	_, id, _ := fakesup.Expect[*proto.Attach](ctl)
	ctl.Ack(id, 0)

	a := runClient(s.addr, 400)
	gs, id, _ := fakesup.Expect[*proto.GetSession](ctl)
	if gs.Handler != proto.KindInternal || gs.Name != "broadcast" {
		t.Fatalf("GetSession %+v", *gs)
	}
	ctl.Ack(id, 1)
	s.expect(t, "broadcast-server: client ")

	// Suspend A.
	rid := ctl.Request(&proto.SuspendRequest{Session: 1, Reason: proto.ReasonDisconnected, DeadlineMS: 5000}, nil)
	rc, id, held := fakesup.Expect[*proto.ReturnCont](ctl)
	if rc.Request != rid || rc.Kind != proto.KindInternal || rc.Exec != nil || len(rc.Slots) != 1 || !rc.Slots[0].Conn || len(held) != 1 {
		t.Fatalf("ReturnCont %+v with %d fds", *rc, len(held))
	}
	if len(rc.Store) != 1 || rc.Store[0].Key != "pos" {
		t.Fatalf("store %+v, want the position", rc.Store)
	}
	if len(rc.Compat) != 1 || rc.Compat[0].Name != "state-format" || rc.Compat[0].Value != "1" {
		t.Errorf("continuation's compat %+v, want state-format 1", rc.Compat)
	}
	ctl.Ack(id, 9)
	pos := string(rc.Store[0].Value)
	line := s.expect(t, "broadcast-server: suspended client ")
	if !strings.HasSuffix(line, " at "+pos+" (cont 9)") {
		t.Errorf("suspend logged as %q, want at %s (cont 9)", line, pos)
	}

	// B joins after A left the broadcast and gets a whole run.
	b := runClient(s.addr, 100)
	_, id, _ = fakesup.Expect[*proto.GetSession](ctl)
	ctl.Ack(id, 2)
	s.expect(t, "broadcast-server: client ")
	if r := <-b; r.code != 0 || !strings.HasPrefix(r.out, "ok: received 100 numbers") {
		t.Fatalf("client B exit %d, stdout %q, stderr %q", r.code, r.out, r.err)
	}
	bEnd := s.expect(t, "broadcast-server: client ") // B gone
	sc, id, _ := fakesup.Expect[*proto.SessionClose](ctl)
	if sc.Session != 2 {
		t.Errorf("closed session %d, want B's 2 (%s)", sc.Session, bEnd)
	}
	ctl.Ack(id, 0)

	// A bad position is refused and the supervisor keeps its descriptor.
	bad := &proto.AttachSession{Cont: 8, Session: 3, Kind: proto.KindInternal, PID: 1,
		Slots: rc.Slots, Store: []proto.Entry{{Key: "pos", Value: []byte("0")}}}
	aid := ctl.Request(bad, held)
	if e, id, _ := fakesup.Expect[*proto.Error](ctl); id != aid {
		t.Errorf("bad attach answered %v on %#x", e, id)
	}

	// Attach A back.
	pid := strconv.Itoa(s.cmd.Process.Pid)
	aid = ctl.Request(&proto.AttachSession{Cont: 9, Session: 3, Kind: proto.KindInternal, PID: uint32(s.cmd.Process.Pid),
		Slots: rc.Slots, Store: rc.Store}, held)
	if _, id, _ := fakesup.Expect[*proto.Ack](ctl); id != aid {
		t.Errorf("attach acked on %#x, want %#x", id, aid)
	}
	if line, want := s.expect(t, "broadcast-server: resumed "), "broadcast-server: resumed cont 9 from old pid "+pid+" at "+pos; line != want {
		t.Errorf("server said %q, want %q", line, want)
	}
	if r := <-a; r.code != 0 || !strings.HasPrefix(r.out, "ok: received 400 numbers") {
		t.Errorf("client A exit %d, stdout %q, stderr %q", r.code, r.out, r.err)
	}
	s.expect(t, "broadcast-server: client ") // A gone
	sc, id, _ = fakesup.Expect[*proto.SessionClose](ctl)
	if sc.Session != 3 {
		t.Errorf("closed session %d, want A's 3", sc.Session)
	}
	ctl.Ack(id, 0)
}
