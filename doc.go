// Package migrate is the app side of migrate's session continuations (the
// paper's Table I): an app registers its connections as sessions with the
// supervisor it runs under, and when asked — the client vanished, the app
// is being upgraded, an operator said so — it hands the supervisor what the
// rest of a session needs: its descriptors, a small attribute/value store,
// and for a complete continuation how to start a fresh process. Later the
// supervisor resumes the session in a fresh process (Resumed) or in a
// running one (OnAttach), and the client on the other end never notices.
//
// # Basics
//
// A process-per-connection server (sshd's model) registers its connection,
// streams, and at a quiescent point of its loop answers a suspend request
// with a complete continuation; the fresh process picks up where it left:
//
//	func serve(ctx context.Context, conn *net.TCPConn, tick <-chan time.Time) {
//		next := 1
//		var sess *migrate.Session
//		if r, ok, err := migrate.Resumed(ctx); ok && err == nil {
//			v, _ := r.Retrieve(ctx, "next")
//			next, _ = strconv.Atoi(string(v))
//			sess, _ = r.Register(ctx, migrate.WithHandler(migrate.Complete))
//			r.Confirm(ctx)
//			conn = r.Conn.(*net.TCPConn)
//		} else if migrate.Available() {
//			sess, _ = migrate.GetSession(ctx, conn, migrate.WithHandler(migrate.Complete))
//		}
//		var suspend <-chan *migrate.SuspendRequest
//		if sess != nil {
//			suspend = sess.Suspend()
//		}
//		for {
//			select {
//			case req := <-suspend: // the quiescent point: no line half-written
//				_, err := req.Return(migrate.Continuation{
//					Kind:  migrate.Complete,
//					Files: []migrate.File{{Conn: conn, Session: true}},
//					Store: []migrate.Entry{{Key: "next", Value: []byte(strconv.Itoa(next))}},
//				})
//				if err == nil {
//					os.Exit(0) // committed: the supervisor holds the session now
//				}
//			case <-tick:
//				fmt.Fprintf(conn, "%d\n", next)
//				next++
//			}
//		}
//	}
//
// A multi-session server (Icecast's model) registers an attach handler at
// start and answers suspend requests with Internal continuations; the
// handler receives the session back inside the same process.
//
// Every call that talks to the supervisor takes a context. The package-level
// functions use one shared Client (Default) dialled from MIGRATE_SOCKET; a
// Client of one's own comes from Dial, DialPath or NewClient.
//
// The wire protocol is docs/protocol.md (package proto); this package
// follows it to the letter, so apps in other languages can do the same.
//
// # Caveats
//
// A continuation exists only once the supervisor acknowledges it; until then
// the app owns its session. So SuspendRequest.Return closes the app's copies
// of the continuation's files only after the Ack, and leaves them open on
// any error. After a successful Return of a Complete continuation the app
// exits (os.Exit after Return); after an Internal or System one it forgets
// the session.
//
// Only this process's Store and Export calls on a Session (plus
// Continuation.Store) make up the store a continuation carries: the protocol
// sends the whole store with the continuation, and the library keeps a copy
// of what it stored. A resumed process that wants an old key carried on
// retrieves it and stores it again.
//
// A suspend request the app neither answers nor refuses lapses at its
// deadline and the app keeps the session; Return after the deadline sends
// nothing and returns ErrDeadline. ReturnCont (on the app's own initiative)
// whose context ends before the supervisor answers cannot know whether the
// continuation was committed (ErrOutcomeUnknown).
//
// Descriptors are read through SyscallConn().Control and duplicated with
// F_DUPFD_CLOEXEC; the library never calls Fd or File on a socket, which
// would switch it to blocking mode for every holder. Descriptors it receives
// are close-on-exec. An attach handler that calls Fd on an
// AttachedFile.File makes that socket blocking; use Attached.Conn.
//
// Close does not wait for attach or suspend handlers still running, and
// sessions outlive the control connection at the supervisor: a Client that
// reconnects does not get the old connection's sessions back.
//
// Resumed consumes MIGRATE_CONT, MIGRATE_PID and MIGRATE_CONT_ID (it
// unsets them once it has the connection), so children of the resumed
// process do not inherit them; the default Exec of a continuation drops
// them too.
package migrate
