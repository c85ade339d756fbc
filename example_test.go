//go:build linux

package migrate_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"os"
	"strconv"

	"github.com/migrate-run/migrate"
	"github.com/migrate-run/migrate/proto"
)

// connection returns a loopback TCP connection for the examples.
func connection() (*net.TCPConn, func()) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer ln.Close()
	dialed, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		panic(err)
	}
	conn, err := ln.Accept()
	if err != nil {
		panic(err)
	}
	return conn.(*net.TCPConn), func() { conn.Close(); dialed.Close() }
}

func ExampleAvailable() {
	if !migrate.Available() {
		fmt.Println("no supervisor: serving without session continuations")
		return
	}
	// migrate.GetSession(ctx, conn, ...) for each connection.
}

func ExampleClient_GetSession() {
	c, stop := newExampleClient()
	defer stop()
	conn, closeConn := connection()
	defer closeConn()

	s, err := c.GetSession(context.Background(), conn, migrate.WithName("client"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("session", s.ID(), s.Name())
	// Output: session 12 client
}

func ExampleSession_Suspend() {
	c, stop := newExampleClient()
	defer stop()
	conn, closeConn := connection()
	defer closeConn()
	ctx := context.Background()

	s, err := c.GetSession(ctx, conn, migrate.WithHandler(migrate.Internal))
	if err != nil {
		log.Fatal(err)
	}
	// The app's event loop: serve, and at a quiescent point answer the
	// supervisor's request with a continuation.
	req := <-s.Suspend()
	fmt.Println("asked to suspend session", req.Session.ID(), "because", req.Reason)
	cont, err := req.Return(migrate.Continuation{
		Kind:  migrate.Internal,
		Files: []migrate.File{{Conn: conn, Name: "client", Session: true}},
		Store: []migrate.Entry{{Key: "pos", Value: []byte("4711")}},
	})
	if err != nil {
		log.Fatal(err) // the app keeps its session
	}
	fmt.Println("continuation", cont, "committed; the connection is the supervisor's now")
	// Output:
	// asked to suspend session 12 because operator
	// continuation 9 committed; the connection is the supervisor's now
}

func ExampleSuspendRequest_Refuse() {
	c, stop := newExampleClient()
	defer stop()
	conn, closeConn := connection()
	defer closeConn()

	s, err := c.GetSession(context.Background(), conn, migrate.WithHandler(migrate.Complete))
	if err != nil {
		log.Fatal(err)
	}
	req := <-s.Suspend()
	if err := req.Refuse(errors.New("in the middle of a transfer")); err != nil {
		log.Fatal(err)
	}
	fmt.Println("refused; still serving session", s.ID())
	// Output: refused; still serving session 12
}

func ExampleSession_Store() {
	c, stop := newExampleClient()
	defer stop()
	conn, closeConn := connection()
	defer closeConn()
	ctx := context.Background()

	s, err := c.GetSession(ctx, conn)
	if err != nil {
		log.Fatal(err)
	}
	if err := s.Store(ctx, "offset", []byte("42")); err != nil {
		log.Fatal(err)
	}
	if err := s.Export(ctx, "offset"); err != nil {
		log.Fatal(err)
	}
	size, _ := s.StoreSize(ctx, "offset")
	v, _ := s.Retrieve(ctx, "offset")
	fmt.Printf("offset: %d bytes, %s\n", size, v)
	_, err = s.Retrieve(ctx, "missing")
	fmt.Println("missing key:", migrate.HasCode(err, proto.CodeUnknownKey))
	// Output:
	// offset: 2 bytes, 42
	// missing key: true
}

func ExampleSession_ReturnCont() {
	c, stop := newExampleClient()
	defer stop()
	conn, closeConn := connection()
	defer closeConn()
	ctx := context.Background()

	s, err := c.GetSession(ctx, conn)
	if err != nil {
		log.Fatal(err)
	}
	// Suspend on the app's own initiative: only the descriptors (a system
	// continuation), with the compat tags the resuming side must match.
	cont, err := s.ReturnCont(ctx, migrate.Continuation{
		Kind:   migrate.System,
		Files:  []migrate.File{{Conn: conn, Session: true}},
		Compat: []migrate.CompatTag{{ID: 1, Name: "protocol", Value: "2"}},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("continuation", cont)
	// Output: continuation 9
}

func ExampleSession_Close() {
	c, stop := newExampleClient()
	defer stop()
	conn, closeConn := connection()
	defer closeConn()
	ctx := context.Background()

	s, err := c.GetSession(ctx, conn)
	if err != nil {
		log.Fatal(err)
	}
	if err := s.Close(ctx); err != nil { // the client said goodbye
		log.Fatal(err)
	}
	err = s.Store(ctx, "k", nil)
	fmt.Println(errors.Is(err, migrate.ErrSessionOver))
	// Output: true
}

func ExampleDependsOn() {
	c, stop := newExampleClient()
	defer stop()
	main, closeMain := connection()
	defer closeMain()
	x11, closeX11 := connection()
	defer closeX11()
	ctx := context.Background()

	ssh, err := c.GetSession(ctx, main, migrate.WithName("ssh"))
	if err != nil {
		log.Fatal(err)
	}
	// Suspending the ssh session suspends the forwarded connection too.
	if _, err := c.GetSession(ctx, x11, migrate.WithName("x11"), migrate.DependsOn(ssh)); err != nil {
		log.Fatal(err)
	}
	fmt.Println("registered")
	// Output: registered
}

func ExampleClient_OnAttach() {
	c, stop := newExampleClient()
	defer stop()
	attached := make(chan string)
	err := c.OnAttach(context.Background(), func(a *migrate.Attached) error {
		conn, err := a.Conn()
		if err != nil {
			return err // the library closes what arrived; the supervisor keeps the continuation
		}
		pos, _ := a.Value("pos")
		// A real server hands conn to its broadcast loop; the example
		// closes it.
		conn.Close()
		attached <- fmt.Sprintf("continuation %d from pid %d back as session %d at %s", a.Cont, a.PID, a.Session.ID(), pos)
		return nil
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(<-attached)
	// Output: continuation 9 from pid 4242 back as session 13 at 17
}

func ExampleClient_RegisterCompat() {
	c, stop := newExampleClient()
	defer stop()
	ctx := context.Background()

	tags := []migrate.CompatTag{{ID: 1, Name: "libssl", Value: "3.0"}}
	if err := c.RegisterCompat(ctx, "2.4.1", tags); err != nil {
		log.Fatal(err)
	}
	got, err := c.CompatGet(ctx, "2.4.1")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s=%s\n", got[0].Name, got[0].Value)
	// Output: libssl=3.0
}

// A process started to resume a complete continuation takes the session
// over: retrieve the state, register the connection, confirm.
func ExampleResumed() {
	ctx := context.Background()
	r, ok, err := migrate.Resumed(ctx)
	if err != nil {
		log.Fatal(err)
	}
	if !ok {
		return // a fresh start
	}
	v, err := r.Retrieve(ctx, "next")
	if err != nil {
		log.Fatal(err)
	}
	next, _ := strconv.Atoi(string(v))
	sess, err := r.Register(ctx, migrate.WithHandler(migrate.Complete))
	if err != nil {
		log.Fatal(err)
	}
	if err := r.Confirm(ctx); err != nil {
		log.Fatal(err)
	}
	fmt.Fprintf(os.Stderr, "resumed continuation %d of pid %d at %d as session %d\n", r.Cont, r.OldPID, next, sess.ID())
	// ... serve r.Conn from next on.
}
