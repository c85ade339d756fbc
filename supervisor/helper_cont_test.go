package supervisor

import (
	"os"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/migrate-run/migrate/proto"
)

// onSuspend answers a SuspendRequest at the app's quiescent point: the
// session's connection and its counter as the store, and for a complete
// continuation the exec description (args, cwd, credentials; env left out
// for the supervisor to default from the running process).
func (a *testApp) onSuspend(id uint64, m *proto.SuspendRequest) {
	switch a.kind {
	case "die":
		_ = unix.Kill(os.Getpid(), unix.SIGKILL)
	case "late":
		_, _ = a.stdin.ReadString('\n') // the test says when the deadline has passed
	}
	a.smu.Lock() // quiescent point: no request is being answered
	defer a.smu.Unlock()
	s := a.sessions[m.Session]
	kind := a.handlerKind()
	rc := &proto.ReturnCont{Session: m.Session, Request: id, Kind: kind,
		Slots: []proto.Slot{{FD: int32(s.fd), Role: proto.RoleConn, Conn: true, Name: "client"}},
		Store: []proto.Entry{{Key: "next", Value: []byte(strconv.FormatUint(s.counter, 10))}}}
	if e, err := strconv.ParseUint(os.Getenv(expiryEnv), 10, 32); err == nil {
		rc.ExpirySec = uint32(e)
	}
	if a.kind == "dups" { // the connection twice: one resource, two slots
		dup, _ := unix.FcntlInt(uintptr(s.fd), unix.F_DUPFD_CLOEXEC, 20)
		defer unix.Close(dup)
		rc.Slots = append(rc.Slots, proto.Slot{FD: int32(dup), Role: proto.RoleConn, Name: "dup"})
		rc.Store = append(rc.Store, proto.Entry{Key: "dup", Value: []byte(strconv.Itoa(dup))})
	}
	if kind == proto.KindComplete {
		wd, _ := os.Getwd()
		rc.Exec = &proto.Exec{Args: os.Args, Cwd: wd, UID: uint32(os.Getuid()), GID: uint32(os.Getgid()),
			SigMask: 1 << (unix.SIGUSR2 - 1)}
		if a.kind == "liar" { // credentials it does not have
			rc.Exec.UID, rc.Exec.GID = 0, 0
		}
	}
	fds := []int{s.fd}
	for _, sl := range rc.Slots[1:] {
		fds = append(fds, int(sl.FD))
	}
	r := a.call(rc, fds)
	switch b := r.Body.(type) {
	case *proto.Ack:
		report("acked %d %d", m.Session, b.Value)
		_, _ = a.stdin.ReadString('\n')
		if kind == proto.KindComplete {
			os.Exit(0)
		}
		s.dead = true // the serving goroutine closes nothing; it just stops
		delete(a.sessions, m.Session)
	case *proto.Error:
		report("refused %d %d", m.Session, b.Code)
	}
}

func (a *testApp) onAttach(id uint64, m *proto.AttachSession, fds []int) {
	var fd int = -1
	for i, sl := range m.Slots {
		if sl.Conn {
			fd = fds[i]
		}
	}
	var next uint64
	for _, e := range m.Store {
		if e.Key == "next" {
			next, _ = strconv.ParseUint(string(e.Value), 10, 64)
		}
	}
	a.send(proto.Message{ID: id, Body: &proto.Ack{}}, nil)
	a.serve(m.Session, fd, next)
	report("attached %d %d %d", m.Cont, m.Session, fd)
}
