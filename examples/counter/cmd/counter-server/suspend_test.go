//go:build linux

package main

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/migrate-run/migrate/examples/counter/fakesup"
	"github.com/migrate-run/migrate/examples/counter/streamcheck"
	"github.com/migrate-run/migrate/proto"
)

// TestSuspendAndResumeUnderAFakeSupervisor plays the supervisor's part of
// a complete continuation: suspend the child's session, check what it
// hands over, start the fresh process as the supervisor would (the
// connection at its old number, MIGRATE_ variables) and answer its
// Retrieve, GetSession and Resumed. The client must see no gap and no
// duplicate.
func TestSuspendAndResumeUnderAFakeSupervisor(t *testing.T) {
	sup := fakesup.Start(t)
	t.Setenv("MIGRATE_SOCKET", sup.Path)
	s := startServer(t, nil, "--addr", "127.0.0.1:0", "--interval", "2ms")
	type result struct {
		code     int
		out, err string
	}
	done := make(chan result, 1)
	go func() {
		var out, errOut bytes.Buffer
		code := streamcheck.Run("client", streamcheck.Counter, []string{"--addr", s.addr, "--count", "400"}, &out, &errOut)
		done <- result{code, out.String(), errOut.String()}
	}()
	oldPID := strings.Fields(s.expect(t, "counter-server: pid "))[2]

	// The listener registers its compat vector for its version.
	listener := sup.Accept(t)
	cr, id, _ := fakesup.Expect[*proto.CompatRegister](listener)
	if cr.Version != "1" || len(cr.Tags) != 1 || cr.Tags[0].Name != "state-format" || cr.Tags[0].Value != "1" {
		t.Fatalf("CompatRegister %+v, want version 1 with state-format 1", *cr)
	}
	listener.Ack(id, 0)

	// The child registers its connection as a session with a complete handler.
	child := sup.Accept(t)
	gs, id, fds := fakesup.Expect[*proto.GetSession](child)
	if gs.Handler != proto.KindComplete || gs.Name != "counter" || len(fds) != 1 {
		t.Fatalf("GetSession %+v with %d fds", *gs, len(fds))
	}
	child.Ack(id, 1)

	// Suspend it.
	rid := child.Request(&proto.SuspendRequest{Session: 1, Reason: proto.ReasonOperator, DeadlineMS: 5000}, nil)
	rc, id, held := fakesup.Expect[*proto.ReturnCont](child)
	if rc.Request != rid || rc.Kind != proto.KindComplete || len(rc.Slots) != 1 || !rc.Slots[0].Conn || len(held) != 1 {
		t.Fatalf("ReturnCont %+v with %d fds", *rc, len(held))
	}
	if len(rc.Store) != 1 || rc.Store[0].Key != "next" {
		t.Fatalf("store %+v, want just next", rc.Store)
	}
	if len(rc.Compat) != 1 || rc.Compat[0].Value != "1" {
		t.Fatalf("continuation's compat %+v, want state-format 1", rc.Compat)
	}
	exe, _ := os.Executable()
	if rc.Exec == nil || len(rc.Exec.Args) < 2 || rc.Exec.Args[0] != exe || rc.Exec.Args[1] != "serve" {
		t.Fatalf("exec %+v, want this program's serve", rc.Exec)
	}
	child.Ack(id, 9)
	next := string(rc.Store[0].Value)
	s.expect(t, "counter-server: suspended at "+next+" (cont 9)")
	child.Closed() // the child exited

	// Resume: a fresh process with the connection at its old number.
	logs := startResumed(t, sup.Path, rc, held[0], oldPID)
	fresh := sup.Accept(t)
	// It asks for its store's value and registers the connection at once:
	// the two requests come in either order, and Resumed only after both
	// answers.
	var retrieved, registered bool
	for range 2 {
		m, fds := fresh.Recv()
		switch b := m.Body.(type) {
		case *proto.Retrieve:
			if retrieved || b.Cont != 9 || b.Key != "next" {
				t.Fatalf("Retrieve %+v (a second: %v)", *b, retrieved)
			}
			retrieved = true
			fresh.Send(proto.Message{ID: m.ID, Body: &proto.RetrieveReply{Value: []byte(next)}}, nil)
		case *proto.GetSession:
			if registered || b.Cont != 9 || b.Handler != proto.KindComplete || len(fds) != 1 {
				t.Fatalf("GetSession of the resumed process %+v with %d fds (a second: %v)", *b, len(fds), registered)
			}
			registered = true
			fresh.Ack(m.ID, 2)
		default:
			t.Fatalf("resumed process sent %v, want Retrieve and GetSession", m.Body.Type())
		}
	}
	rs, id, _ := fakesup.Expect[*proto.Resumed](fresh)
	if rs.Cont != 9 {
		t.Fatalf("Resumed %+v", *rs)
	}
	fresh.Ack(id, 0)
	want := "counter-server: resumed cont 9 from old pid " + oldPID + " at " + next
	if line := <-logs; line != want {
		t.Errorf("resumed process said %q, want %q", line, want)
	}

	res := <-done
	if res.code != 0 || res.out != "ok: received 400 numbers, last 400, no gap or duplicate\n" {
		t.Errorf("client exit %d, stdout %q, stderr %q", res.code, res.out, res.err)
	}
	// The client left: the resumed process closes its session and ends.
	sc, id, _ := fakesup.Expect[*proto.SessionClose](fresh)
	if sc.Session != 2 {
		t.Errorf("SessionClose of %d, want 2", sc.Session)
	}
	fresh.Ack(id, 0)
	fresh.Closed()
}

// startResumed starts the continuation's process as the supervisor does:
// its exec description, the held descriptor at the slot's number, and the
// MIGRATE_ variables. Its stderr lines arrive on the channel.
func startResumed(t *testing.T, sockPath string, rc *proto.ReturnCont, held int, oldPID string) <-chan string {
	t.Helper()
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	number := int(rc.Slots[0].FD)
	files := make([]uintptr, number+1)
	for i := range files {
		files[i] = ^uintptr(0) // closed in the child
	}
	files[0], files[1], files[2], files[number] = 0, 1, pw.Fd(), uintptr(held)
	env := append(rc.Exec.Env, "MIGRATE_SOCKET="+sockPath, "MIGRATE_CONT="+strconv.Itoa(number),
		"MIGRATE_PID="+oldPID, "MIGRATE_CONT_ID=9")
	pid, _, err := syscall.StartProcess(rc.Exec.Args[0], rc.Exec.Args, &syscall.ProcAttr{Dir: rc.Exec.Cwd, Env: env, Files: files})
	pw.Close()
	if err != nil {
		pr.Close()
		t.Fatal(err)
	}
	lines := make(chan string, 16)
	read := make(chan struct{})
	go func() {
		defer close(read)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	t.Cleanup(func() {
		var ws syscall.WaitStatus
		syscall.Wait4(pid, &ws, 0, nil)
		<-read
		pr.Close()
		if !ws.Exited() || ws.ExitStatus() != 0 {
			t.Errorf("resumed process ended with %v", ws)
		}
	})
	return lines
}
