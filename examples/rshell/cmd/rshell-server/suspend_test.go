//go:build linux

package main

import (
	"bufio"
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/migrate-run/migrate/examples/counter/fakesup"
	"github.com/migrate-run/migrate/examples/rshell/wire"
	"github.com/migrate-run/migrate/proto"
)

// TestSuspendAndResumeUnderAFakeSupervisor plays the supervisor's part of
// a complete continuation: suspend a child's session, check what it hands
// over (the connection, the pty master, the status pipe; the state; the
// exec description), start the fresh process as the supervisor would
// (each descriptor at its old number, the MIGRATE_ variables) and answer
// its Retrieve, GetSession and Resumed. The shell's variable and cwd, and
// a line typed while no server ran, are there.
func TestSuspendAndResumeUnderAFakeSupervisor(t *testing.T) {
	sup := fakesup.Start(t)
	s := startServer(t, nil, []string{"MIGRATE_SOCKET=" + sup.Path}, append([]string{"--addr", "127.0.0.1:0"}, shArgs...)...)
	s.addr = s.expect(`^rshell-server: listening on (\S+)$`)[1]
	compatRegistered(t, sup.Accept(t)) // the listener's

	c := dial(t, s.addr, wire.Hello{Term: "vt100", Size: wire.Winsize{Rows: 24, Cols: 80}})
	oldPID, shell := s.serving()
	child := sup.Accept(t)
	compatRegistered(t, child)
	gs, id, _ := fakesup.Expect[*proto.GetSession](child)
	if gs.Handler != proto.KindComplete || !strings.HasPrefix(gs.Name, "rshell 127.0.0.1:") {
		t.Fatalf("GetSession %+v", *gs)
	}
	child.Ack(id, 1)
	c.typeLine("X=42; cd /tmp; echo READY")
	c.expect("READY\r\n")

	rid := child.Request(&proto.SuspendRequest{Session: 1, Reason: proto.ReasonOperator, DeadlineMS: 5000}, nil)
	rc, id, held := fakesup.Expect[*proto.ReturnCont](child)
	checkReturnCont(t, rc, rid, len(held), shell)
	child.Ack(id, 9)
	s.expect(`^rshell-server: suspended \(cont 9\): \d+ bytes held for the client, \d+ from it$`)
	child.Closed()
	gone(t, oldPID)

	c.typeLine("echo $X $PWD") // while no server runs
	logs := startResumed(t, sup.Path, rc, held, oldPID)
	fresh := sup.Accept(t)
	r, id, _ := fakesup.Expect[*proto.Retrieve](fresh)
	if r.Cont != 9 || r.Key != "rshell" {
		t.Fatalf("Retrieve %+v", *r)
	}
	fresh.Send(proto.Message{ID: id, Body: &proto.RetrieveReply{Value: rc.Store[0].Value}}, nil)
	gs, id, _ = fakesup.Expect[*proto.GetSession](fresh)
	if gs.Cont != 9 || gs.Handler != proto.KindComplete {
		t.Fatalf("GetSession of the fresh process %+v", *gs)
	}
	fresh.Ack(id, 2)
	rs, id, _ := fakesup.Expect[*proto.Resumed](fresh)
	if rs.Cont != 9 {
		t.Fatalf("Resumed %+v", *rs)
	}
	fresh.Ack(id, 0)
	want := "rshell-server: resumed cont 9 from old pid " + strconv.Itoa(oldPID) + ": shell " + strconv.Itoa(shell) + " alive on /dev/pts/"
	if line := <-logs; !strings.HasPrefix(line, want) {
		t.Errorf("the fresh process said %q, want %q...", line, want)
	}

	c.expect("42 /tmp\r\n")
	c.typeLine("exit 5")
	if e, _ := c.exit(); e != (wire.Exit{How: wire.Exited, Code: 5}) {
		t.Errorf("exit %+v, want status 5", e)
	}
	sc, id, _ := fakesup.Expect[*proto.SessionClose](fresh)
	if sc.Session != 2 {
		t.Errorf("SessionClose of %d, want 2", sc.Session)
	}
	fresh.Ack(id, 0)
	fresh.Closed()
	gone(t, shell)
}

func compatRegistered(t *testing.T, c *fakesup.Conn) {
	t.Helper()
	cr, id, _ := fakesup.Expect[*proto.CompatRegister](c)
	if cr.Version != version || len(cr.Tags) != 1 || cr.Tags[0].Name != "state-format" {
		t.Fatalf("CompatRegister %+v", *cr)
	}
	c.Ack(id, 0)
}

// checkReturnCont checks a suspended child's continuation.
func checkReturnCont(t *testing.T, rc *proto.ReturnCont, rid uint64, fds, shell int) {
	t.Helper()
	if rc.Request != rid || rc.Kind != proto.KindComplete || len(rc.Slots) != 3 || fds != 3 {
		t.Fatalf("ReturnCont %+v with %d fds, want a complete continuation of 3", *rc, fds)
	}
	for i, want := range []struct {
		name string
		role proto.Role
		conn bool
	}{{"client", proto.RoleConn, true}, {"ptmx", proto.RolePTY, false}, {"shell status", proto.RolePipe, false}} {
		if sl := rc.Slots[i]; sl.Name != want.name || sl.Role != want.role || sl.Conn != want.conn {
			t.Errorf("slot %d %+v, want %+v", i, sl, want)
		}
	}
	if len(rc.Store) != 1 || rc.Store[0].Key != "rshell" {
		t.Fatalf("store %+v, want the rshell key", rc.Store)
	}
	var st state
	if err := json.Unmarshal(rc.Store[0].Value, &st); err != nil {
		t.Fatal(err)
	}
	if st.Shell != shell || st.PTY != int(rc.Slots[1].FD) || st.Status != int(rc.Slots[2].FD) || st.Suspends != 1 {
		t.Errorf("state %+v, want shell %d, pty at %d, status pipe at %d, one suspend", st, shell, rc.Slots[1].FD, rc.Slots[2].FD)
	}
	if len(rc.Compat) != 1 || rc.Compat[0] != (proto.CompatTag{ID: 1, Name: "state-format", Value: stateFormat}) {
		t.Errorf("compat %+v", rc.Compat)
	}
	exe, _ := os.Executable()
	if rc.Exec == nil || len(rc.Exec.Args) < 2 || rc.Exec.Args[0] != exe || rc.Exec.Args[1] != serveCmd {
		t.Errorf("exec %+v, want this program's serve", rc.Exec)
	}
}

// startResumed starts the continuation's process as the supervisor does:
// its exec description, each held descriptor at its slot's number, the
// MIGRATE_ variables. Its stderr lines arrive on the channel; it must exit
// 0 by cleanup.
func startResumed(t *testing.T, sockPath string, rc *proto.ReturnCont, held []int, oldPID int) <-chan string {
	t.Helper()
	return startProcess(t, rc.Exec.Args, rc.Exec.Env, rc.Exec.Cwd, sockPath, rc, held, oldPID, 0)
}

func startProcess(t *testing.T, args, env []string, dir, sockPath string, rc *proto.ReturnCont, held []int, oldPID, wantExit int) <-chan string {
	t.Helper()
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	files := []uintptr{0, 1, pw.Fd()}
	contFD := 0
	for i, sl := range rc.Slots {
		for len(files) <= int(sl.FD) {
			files = append(files, ^uintptr(0)) // closed in the child
		}
		files[sl.FD] = uintptr(held[i])
		if sl.Conn {
			contFD = int(sl.FD)
		}
	}
	env = append(env, "MIGRATE_SOCKET="+sockPath, "MIGRATE_CONT="+strconv.Itoa(contFD),
		"MIGRATE_PID="+strconv.Itoa(oldPID), "MIGRATE_CONT_ID=9")
	pid, _, err := syscall.StartProcess(args[0], args, &syscall.ProcAttr{Dir: dir, Env: env, Files: files})
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
		done := make(chan struct{})
		go func() { syscall.Wait4(pid, &ws, 0, nil); close(done) }()
		select {
		case <-done:
		case <-time.After(timeout):
			syscall.Kill(pid, syscall.SIGKILL)
			<-done
		}
		<-read
		pr.Close()
		if !ws.Exited() || ws.ExitStatus() != wantExit {
			t.Errorf("the resumed process ended with %v, want exit status %d", ws, wantExit)
		}
	})
	return lines
}

// TestResumeWithABadStateConfirmsNothing starts fresh processes whose
// continuation is wrong in some way: each says why, exits 1, and neither
// registers the session nor confirms, so the supervisor keeps the
// continuation.
func TestResumeWithABadStateConfirmsNothing(t *testing.T) {
	good := func(pty, status int) string {
		return `{"format":"1","shell":1,"waiter":1,"pty":` + strconv.Itoa(pty) + `,"pts":0,"status":` + strconv.Itoa(status) + `}`
	}
	for _, c := range []struct {
		name, value, says string
	}{
		{"not JSON", `{"format":`, "bad session state"},
		{"another format", strings.Replace(good(4, 5), `"format":"1"`, `"format":"2"`, 1), `format "2", this build reads "1"`},
		{"no shell", strings.Replace(good(4, 5), `"shell":1`, `"shell":0`, 1), "shell pid 0"},
		{"pty at a pipe", good(5, 4), "not a pseudo-terminal master"},
		{"status at a socket", good(4, 3), "not the status pipe"},
	} {
		t.Run(c.name, func(t *testing.T) {
			sup := fakesup.Start(t)
			held, _ := resumeFDs(t)
			rc := &proto.ReturnCont{Slots: []proto.Slot{{FD: 3, Conn: true}, {FD: 4}, {FD: 5}}}
			exe, _ := os.Executable()
			logs := startProcess(t, append([]string{exe, serveCmd}, shArgs...), append(os.Environ(), asMain+"=1"), "/", sup.Path, rc, held, 4242, 1)
			fresh := sup.Accept(t)
			_, id, _ := fakesup.Expect[*proto.Retrieve](fresh)
			fresh.Send(proto.Message{ID: id, Body: &proto.RetrieveReply{Value: []byte(c.value)}}, nil)
			fresh.Closed() // no GetSession, no Resumed
			if line := <-logs; !strings.HasPrefix(line, "rshell-server: resume cont 9: ") || !strings.Contains(line, c.says) {
				t.Errorf("the fresh process said %q, want it to say %q", line, c.says)
			}
		})
	}
}

// resumeFDs returns descriptors as a continuation would hold them: a
// connection, a pty master and a pipe's read end. They are closed at
// cleanup; the peer of the connection is returned.
func resumeFDs(t *testing.T) ([]int, int) {
	t.Helper()
	sp, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	master, err := syscall.Open("/dev/ptmx", syscall.O_RDWR|syscall.O_NOCTTY|syscall.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	var p [2]int
	if err := syscall.Pipe2(p[:], syscall.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, fd := range []int{sp[0], sp[1], master, p[0], p[1]} {
			syscall.Close(fd)
		}
	})
	return []int{sp[0], master, p[0]}, sp[1]
}
