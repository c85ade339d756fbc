//go:build linux

package migrate_test

import (
	"context"
	"errors"
	"net"
	"sync"

	"github.com/migrate-run/migrate"
	"github.com/migrate-run/migrate/fdpass"
	"github.com/migrate-run/migrate/proto"
	"golang.org/x/sys/unix"
)

// exampleSupervisor is a tiny in-memory supervisor for the examples: it
// keeps stores and compat vectors, acknowledges everything, asks to
// suspend each session registered with a handler, and resumes into an
// attach handler a session of its own making.
type exampleSupervisor struct {
	conn   *net.UnixConn
	stores map[string][]byte
	compat map[string][]proto.CompatTag
	nextID uint64
	peers  []*net.UnixConn // the far ends of attached sessions
}

// newExampleClient returns a Client talking to an exampleSupervisor, and
// the function that stops both.
func newExampleClient() (*migrate.Client, func()) {
	a, b, err := fdpass.SocketPair()
	if err != nil {
		panic(err)
	}
	sup := &exampleSupervisor{conn: b, stores: map[string][]byte{}, compat: map[string][]proto.CompatTag{}}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		sup.serve()
	}()
	c, err := migrate.NewClient(context.Background(), a)
	if err != nil {
		panic(err)
	}
	return c, func() {
		c.Close()
		b.Close()
		wg.Wait()
		for _, p := range sup.peers {
			p.Close()
		}
	}
}

func (s *exampleSupervisor) serve() {
	buf := make([]byte, proto.MaxMessageSize)
	for {
		rec, fds, err := fdpass.Recv(s.conn, buf, proto.MaxFDs, proto.DeclaredFDs)
		if err != nil {
			return
		}
		for _, fd := range fds { // a real supervisor would hold them
			unix.Close(fd)
		}
		m, err := proto.Decode(rec)
		if err != nil {
			return
		}
		s.handle(m)
	}
}

func (s *exampleSupervisor) handle(m proto.Message) {
	switch b := m.Body.(type) {
	case *proto.Hello:
		s.reply(m.ID, &proto.HelloReply{Version: 1, App: "example", DefaultExpirySec: 3600})
	case *proto.GetSession:
		s.reply(m.ID, &proto.Ack{Value: 12})
		if b.Handler != proto.KindNone {
			s.request(&proto.SuspendRequest{Session: 12, Reason: proto.ReasonOperator, DeadlineMS: 5000}, nil)
		}
	case *proto.Store:
		s.stores[b.Key] = b.Value
		s.reply(m.ID, &proto.Ack{})
	case *proto.Retrieve:
		if v, ok := s.stores[b.Key]; ok {
			s.reply(m.ID, &proto.RetrieveReply{Value: v})
		} else {
			s.reply(m.ID, &proto.Error{Code: proto.CodeUnknownKey, Message: "no key " + b.Key})
		}
	case *proto.StoreSize:
		s.reply(m.ID, &proto.Ack{Value: uint64(len(s.stores[b.Key]))})
	case *proto.ReturnCont:
		s.reply(m.ID, &proto.Ack{Value: 9})
	case *proto.CompatRegister:
		s.compat[b.Version] = b.Tags
		s.reply(m.ID, &proto.Ack{})
	case *proto.CompatGet:
		s.reply(m.ID, &proto.CompatReply{Version: b.Version, Tags: s.compat[b.Version]})
	case *proto.Attach:
		s.reply(m.ID, &proto.Ack{})
		s.attachOne()
	case *proto.Ack, *proto.Error: // answers to our requests
	default:
		s.reply(m.ID, &proto.Ack{})
	}
}

// attachOne resumes a made-up internal continuation into the app.
func (s *exampleSupervisor) attachOne() {
	mine, peer, err := fdpass.SocketPair()
	if err != nil {
		panic(err)
	}
	defer mine.Close()
	s.peers = append(s.peers, peer)
	raw, _ := mine.SyscallConn()
	raw.Control(func(fd uintptr) {
		s.request(&proto.AttachSession{Cont: 9, Session: 13, Kind: proto.KindInternal, PID: 4242, Name: "listener",
			Slots: []proto.Slot{{FD: 5, Name: "client", Role: proto.RoleConn, Conn: true}},
			Store: []proto.Entry{{Key: "pos", Value: []byte("17")}}}, []int{int(fd)})
	})
}

func (s *exampleSupervisor) reply(id uint64, body proto.Body) { s.send(id, body, nil) }

func (s *exampleSupervisor) request(body proto.Body, fds []int) {
	s.nextID++
	s.send(proto.SupervisorBit|s.nextID, body, fds)
}

func (s *exampleSupervisor) send(id uint64, body proto.Body, fds []int) {
	rec, err := proto.Encode(proto.Message{ID: id, Body: body})
	if err != nil {
		panic(err)
	}
	if err := fdpass.Send(s.conn, rec, fds); err != nil && !errors.Is(err, net.ErrClosed) {
		return
	}
}
