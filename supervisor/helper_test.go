package supervisor

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/migrate-run/migrate/fdpass"
	"github.com/migrate-run/migrate/proto"
)

// The test binary doubles as the apps of the tests: started with helperEnv
// set, TestMain runs testApp instead of the tests. testApp speaks the
// protocol with proto and fdpass directly (not through package migrate) and
// reports what happens as lines on its standard output:
//
//	hello CODE                Hello's reply (0: HelloReply)
//	listening ADDR            the listener at fd 3 is bound to ADDR
//	registered I SESSION      connection I is session SESSION
//	acked SESSION CONT        ReturnCont answered with Ack; then waits for a
//	                          line on stdin before it goes on (exits, for a
//	                          complete continuation)
//	refused SESSION CODE      ReturnCont answered with Error CODE
//	resumed CONT SESSION NEXT OLDPID FD SIGBLK CWD
//	                          a fresh process took CONT over
//	attached CONT SESSION FD  AttachSession taken over
//	probe NAME CODE MESSAGE   a probe's reply (0 and no message for Ack)
//
// Its behaviour comes from the environment:
//
//	helperEnv   "app" or "probe" ("flock" runs runFlockHelper instead)
//	kindEnv     complete (default), internal, late (answers once told on
//	            stdin), die (SIGKILLs itself on a SuspendRequest), self
//	            (returns a complete continuation unasked), dups (hands
//	            the connection over twice), liar (asks for uid 0)
//	connsEnv    number of connections to accept and register (default 1)
//	depsEnv     "1": connection i>0 depends on the session of connection 0
//	expiryEnv   ReturnCont's expiry_sec
//
// Each connection answers every byte it reads with the next number of a
// counter shared by its session, "N\n": a client sees a gap or a repeat if
// a resume loses or replays state.
const (
	helperEnv = "SUPTEST_HELPER"
	kindEnv   = "SUPTEST_KIND"
	connsEnv  = "SUPTEST_CONNS"
	depsEnv   = "SUPTEST_DEPS"
	expiryEnv = "SUPTEST_EXPIRY"
	probeEnv  = "SUPTEST_PROBE"
	// dieFileEnv names a file: a fresh process that finds it removes it
	// and exits before it confirms its resume.
	dieFileEnv = "SUPTEST_DIEFILE"
	// hangFileEnv is the same, but the process hangs instead.
	hangFileEnv = "SUPTEST_HANGFILE"
)

type testApp struct {
	ctl     *net.UnixConn
	wmu     sync.Mutex
	mu      sync.Mutex
	next    uint64
	pending map[uint64]chan proto.Message
	stdin   *bufio.Reader
	kind    string
	gone    chan struct{} // closed when the supervisor hangs up

	smu      sync.Mutex // serving lock: held while a request is answered
	sessions map[uint64]*appSession
}

type appSession struct {
	fd      int
	counter uint64
	dead    bool
}

func report(format string, args ...any) {
	fmt.Fprintf(os.Stdout, format+"\n", args...)
}

func runHelper(mode string) {
	ctl, err := net.DialUnix("unixpacket", nil, &net.UnixAddr{Name: os.Getenv("MIGRATE_SOCKET"), Net: "unixpacket"})
	if err != nil {
		report("error dial %v", err)
		os.Exit(2)
	}
	a := &testApp{ctl: ctl, pending: map[uint64]chan proto.Message{}, stdin: bufio.NewReader(os.Stdin),
		kind: os.Getenv(kindEnv), sessions: map[uint64]*appSession{}, gone: make(chan struct{})}
	if a.kind == "" {
		a.kind = "complete"
	}
	go a.readLoop()
	hello := a.call(&proto.Hello{Version: 1, PID: uint32(os.Getpid()), App: os.Getenv("MIGRATE_APP")}, nil)
	report("hello %d", codeOfReply(hello))
	if codeOfReply(hello) != 0 {
		os.Exit(0)
	}
	switch {
	case mode == "probe":
		a.probe()
		os.Exit(0)
	case os.Getenv("MIGRATE_CONT_ID") != "":
		a.resumeFresh()
	default:
		a.start()
	}
	<-a.gone // serve until suspended (complete), killed, or the supervisor leaves
	os.Exit(0)
}

// call sends an app request and waits for its reply.
func (a *testApp) call(body proto.Body, fds []int) proto.Message {
	a.mu.Lock()
	a.next++
	id := a.next
	ch := make(chan proto.Message, 1)
	a.pending[id] = ch
	a.mu.Unlock()
	a.send(proto.Message{ID: id, Body: body}, fds)
	return a.await(ch)
}

// await returns the reply on ch; if the supervisor hangs up first, the
// helper exits 3.
func (a *testApp) await(ch chan proto.Message) proto.Message {
	select {
	case m := <-ch:
		return m
	case <-a.gone:
		select {
		case m := <-ch: // delivered just before the hang-up
			return m
		default:
		}
		report("gone")
		os.Exit(3)
	}
	return proto.Message{}
}

func (a *testApp) send(m proto.Message, fds []int) {
	rec, err := proto.Encode(m)
	if err != nil {
		report("error encode %v", err)
		os.Exit(2)
	}
	a.sendRaw(rec, fds)
}

func (a *testApp) sendRaw(rec []byte, fds []int) {
	a.wmu.Lock()
	defer a.wmu.Unlock()
	if err := fdpass.Send(a.ctl, rec, fds); err != nil {
		report("error send %v", err)
		os.Exit(2)
	}
}

func (a *testApp) readLoop() {
	buf := make([]byte, proto.MaxMessageSize)
	for {
		payload, fds, err := fdpass.Recv(a.ctl, buf, proto.MaxFDs, proto.DeclaredFDs)
		if err != nil {
			close(a.gone) // the supervisor went away
			return
		}
		m, err := proto.Decode(payload)
		if err != nil {
			report("error decode %v", err)
			os.Exit(2)
		}
		switch b := m.Body.(type) {
		case *proto.SuspendRequest:
			go a.onSuspend(m.ID, b)
		case *proto.AttachSession:
			go a.onAttach(m.ID, b, fds)
		default:
			a.mu.Lock()
			ch := a.pending[m.ID]
			delete(a.pending, m.ID)
			a.mu.Unlock()
			if ch != nil {
				ch <- m
			}
		}
	}
}

// start accepts and registers connections on the listener at fd 3.
func (a *testApp) start() {
	if os.Getenv("SUPTEST_ATTACH") == "1" || a.kind == "internal" {
		a.call(&proto.Attach{}, nil)
	}
	sa, _ := unix.Getsockname(3)
	if in, ok := sa.(*unix.SockaddrInet4); ok {
		report("listening %s", net.JoinHostPort(net.IP(in.Addr[:]).String(), strconv.Itoa(in.Port)))
	}
	n, _ := strconv.Atoi(os.Getenv(connsEnv))
	var first uint64
	for i := range max(n, 1) {
		fd, _, err := unix.Accept4(3, unix.SOCK_CLOEXEC)
		if err != nil {
			report("error accept %v", err)
			os.Exit(2)
		}
		gs := &proto.GetSession{FD: int32(fd), Handler: a.handlerKind()}
		if i > 0 && os.Getenv(depsEnv) == "1" {
			gs.DependsOn = []uint64{first}
		}
		sid := ackValue(a.call(gs, []int{fd}))
		if i == 0 {
			first = sid
		}
		a.serve(sid, fd, 0)
		report("registered %d %d", i, sid)
		if a.kind == "self" { // suspend on its own: the paper's return_cont
			go a.onSuspend(0, &proto.SuspendRequest{Session: sid})
		}
	}
}

func (a *testApp) handlerKind() proto.Kind {
	if a.kind == "internal" {
		return proto.KindInternal
	}
	return proto.KindComplete
}

// resumeFresh takes a complete continuation over, as docs/protocol.md's
// flow says: retrieve, re-register, confirm.
func (a *testApp) resumeFresh() {
	cont, _ := strconv.ParseUint(os.Getenv("MIGRATE_CONT_ID"), 10, 64)
	fd, _ := strconv.Atoi(os.Getenv("MIGRATE_CONT"))
	r := a.call(&proto.Retrieve{Scope: proto.Scope{Cont: cont}, Key: "next"}, nil)
	rr, ok := r.Body.(*proto.RetrieveReply)
	if !ok {
		report("error retrieve %v", r.Body)
		os.Exit(2)
	}
	next, _ := strconv.ParseUint(string(rr.Value), 10, 64)
	if a.kind == "dups" {
		a.checkDup(cont, fd)
	}
	if f := os.Getenv(dieFileEnv); f != "" && os.Remove(f) == nil {
		os.Exit(7) // dies once before confirming
	}
	if f := os.Getenv(hangFileEnv); f != "" && os.Remove(f) == nil {
		select {} // hangs once without confirming
	}
	sid := ackValue(a.call(&proto.GetSession{FD: int32(fd), Cont: cont, Handler: a.handlerKind()}, []int{fd}))
	if ackValue(a.call(&proto.Resumed{Cont: cont}, nil)) != 0 {
		os.Exit(2)
	}
	a.serve(sid, fd, next)
	blk, _ := statusField(os.Getpid(), "SigBlk")
	wd, _ := os.Getwd()
	report("resumed %d %d %d %s %d %s %s", cont, sid, next, os.Getenv("MIGRATE_PID"), fd, blk, wd)
}

// checkDup reports whether the slot stored as "dup" was restored at its
// number as the same socket as the connection: "dup OK" or "dup BAD".
func (a *testApp) checkDup(cont uint64, fd int) {
	r := a.call(&proto.Retrieve{Scope: proto.Scope{Cont: cont}, Key: "dup"}, nil)
	rr, _ := r.Body.(*proto.RetrieveReply)
	if rr == nil {
		report("dup BAD")
		return
	}
	dup, _ := strconv.Atoi(string(rr.Value))
	var st1, st2 unix.Stat_t
	if unix.Fstat(fd, &st1) != nil || unix.Fstat(dup, &st2) != nil || st1.Ino != st2.Ino {
		report("dup BAD")
		return
	}
	report("dup OK")
}

func ackValue(m proto.Message) uint64 {
	switch b := m.Body.(type) {
	case *proto.Ack:
		return b.Value
	case *proto.Error:
		report("error reply %d %s", b.Code, b.Message)
	}
	os.Exit(2)
	return 0
}

// serve answers each byte read on fd with the session's next number.
func (a *testApp) serve(sid uint64, fd int, next uint64) {
	a.smu.Lock()
	s := &appSession{fd: fd, counter: next}
	a.sessions[sid] = s
	a.smu.Unlock()
	go func() {
		b := make([]byte, 1)
		for {
			// Poll rather than block in read: a session handed over
			// (internal continuation) must stop reading its copy, and a
			// read blocked on a closed descriptor would still take a byte.
			pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
			if n, _ := unix.Poll(pfd, 20); n <= 0 {
				a.smu.Lock()
				dead := s.dead
				a.smu.Unlock()
				if dead {
					return
				}
				continue
			}
			a.smu.Lock()
			if s.dead {
				a.smu.Unlock()
				return
			}
			n, err := unix.Read(fd, b)
			if n <= 0 || err != nil {
				a.smu.Unlock()
				return
			}
			_, _ = unix.Write(fd, []byte(strconv.FormatUint(s.counter, 10)+"\n"))
			s.counter++
			a.smu.Unlock()
		}
	}()
}

// probe sends the requests probeEnv lists, "NAME:ARG,...", and reports the
// reply code and error message of each.
func (a *testApp) probe() {
	for _, p := range strings.Split(os.Getenv(probeEnv), ",") {
		name, arg, _ := strings.Cut(p, ":")
		v, _ := strconv.ParseUint(arg, 10, 64)
		code, msg := a.probeOne(name, v)
		report("probe %s %d %s", name, code, strings.Join(strings.Fields(msg), " "))
	}
}
