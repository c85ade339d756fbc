// Package supervisor is migrate's orchestration: it runs apps, registers
// their sessions, and suspends and resumes those sessions through
// continuations it commits to a contstore and whose descriptors it holds.
// migrated and migrate-run are thin wrappers around New and Run; migratectl
// and tests drive it through AdminClient.
//
// # Basics
//
//	s, err := supervisor.New(supervisor.Config{Socket: sock, StateDir: dir, Log: log})
//	go s.Run(ctx)                    // listens, reaps, sweeps expiries
//	a, err := s.StartApp(supervisor.AppSpec{Name: "counter", Args: argv, Cwd: "/", Listen: addrs, Stdio: [3]int{0, 1, 2}})
//	ids, err := s.Suspend(ctx, session, proto.ReasonOperator)
//	res, err := s.Resume(ctx, ids[0])
//
// The control socket is a SOCK_SEQPACKET unix socket (docs/protocol.md).
// Each connection has a goroutine that reads and dispatches its messages in
// order; replies to the supervisor's own requests (SuspendRequest,
// AttachSession) are handed by request id to the goroutine waiting for them,
// and admin requests run in a goroutine each, since suspend, resume and
// wait-app wait on other connections.
//
// Identity. A peer is identified once, when it connects, from SO_PEERCRED:
// its pid's cgroup (/proc/PID/cgroup against the apps' cgroups) names its
// app; without cgroups (not root, no delegation) its ancestry does (PPid up
// to a process the supervisor started for an app). A peer of no app is an
// admin if it runs as the supervisor's uid or as root, and may then send
// only the admin messages; anyone else is refused. Every app request may
// touch only that app's sessions and continuations (permission-denied
// otherwise). What Hello claims is logged, never believed.
//
// Suspend. Suspend sends SuspendRequest to the connection that registered
// the session, with Config.SuspendTimeout as its deadline, and waits for
// the ReturnCont. The ReturnCont's descriptors are described
// (fdpass.Describe), collapsed (fdpass.Collapse), the redundant ones closed,
// the record committed (contstore.Put, fsync'd), and only then is the app
// answered Ack with the continuation id. Sessions that depend on the
// session, directly or not, are asked too (reason dependency); never the
// other way round. A ReturnCont with no request (the paper's return_cont) is
// accepted for an active session. The exec description of a complete
// continuation defaults what it leaves out (environment, supplementary
// groups) from the suspending process's /proc entries, read at ReturnCont
// time, less the variables the supervisor sets itself; credentials the
// process could not have had are refused.
//
// The holder table. A committed continuation's descriptors are held as raw
// descriptor numbers (never *os.File, whose finalizer could close one),
// indexed as the record's Slot.Held says, until the continuation is
// resumed, dropped or expired. The session's own GetSession duplicate is
// held while the session is live and closed once a suspend commits, so a
// held session costs one descriptor per kernel object and no more. Held
// complete continuations of one app with equal exec descriptions share one
// copy of it.
//
// Resume. A complete continuation is resumed in a fresh process started with
// launcher in the app's cgroup: every slot at its original number, dup'ed
// from the held descriptors; the app's standard streams (what StartApp was
// given, held for the app's life) on 0, 1 and 2 where no slot is; the exec
// description's args, env, cwd, credentials, rlimits and signal mask; and
//
//	MIGRATE_SOCKET   the control socket
//	MIGRATE_APP      the app's name
//	MIGRATE_CONT     the number of the slot that is the session's connection
//	                 (Slot.Conn, else the first conn slot; absent if none)
//	MIGRATE_PID      the pid that suspended
//	MIGRATE_CONT_ID  the continuation id, decimal
//
// The process retrieves its store (Retrieve{Cont}), re-registers the
// connection it inherited (GetSession{Cont}: same session id) and confirms
// with Resumed; then the continuation is resumed and its held descriptors
// closed. Its record stays, in state resumed, until its expiry, so that
// migratectl show still finds it. If the fresh process exits before it
// confirms, or does not confirm within Config.ResumeTimeout (it is then
// killed), the continuation is suspended again and can be resumed again.
// An internal or system continuation goes to the newest connection of its
// app that sent Attach (AttachSession with the held descriptors in slot
// order and the store): its Ack resumes it, its Error leaves it suspended.
//
// Expiry. Every continuation expires: what ReturnCont asks, else the app's
// default (AppSpec.Expiry), else Config.DefaultExpiry, capped by
// Config.MaxExpiry. A sweeper sleeps until the soonest known expiry, then
// drops what is due: held descriptors closed, state expired, record
// deleted; records already final (resumed) are deleted then too. GC sweeps
// at once.
//
// Apps and processes. The supervisor is a child subreaper and reaps with a
// wait4(-1) loop on SIGCHLD, recording each exit; pids it did not start are
// ignored. An app is done (App.Done, admin wait-app) once its main process
// has exited, no process of it remains (its cgroup is empty, or without
// cgroups no process the supervisor started for it lives) and none of its
// continuations is suspended or resuming: this is when migrate-run exits.
// StopApp sends the app's stop signal (SIGTERM), waits its stop timeout
// (Config.StopTimeout), kills the cgroup, closes the app's sessions, drops
// its suspended continuations and deletes the cgroup.
//
// # Services
//
// Every app is also a service in systemd's sense (lifecycle.go): its main
// process is restarted per AppSpec.Restart (no, on-failure, always) after a
// delay that doubles with each consecutive failure up to MaxDelay, until
// more than Burst starts fall within Interval (state failed, result
// start-limit). A restart starts only the main process again: the app keeps
// its cgroup, its listening sockets (so no connection is refused while it
// restarts), its log ring, its fd store and its held continuations, and
// its other processes (resumed sessions, accepted connections) run on.
// Each app gets a NOTIFY_SOCKET (notify_linux.go, beside the control
// socket in notify/): READY=1 ends starting with readiness notify (bounded
// by StartTimeout), RELOADING=1, STOPPING=1, STATUS=, ERRNO=, MAINPID=,
// WATCHDOG=1 and WATCHDOG_USEC= (a miss sends SIGABRT and counts as a
// failure), EXTEND_TIMEOUT_USEC=, and FDSTORE=1/FDNAME=/FDSTOREREMOVE=1/
// FDPOLL=0, BARRIER=1. A message counts only when its sender, identified
// by the kernel's SCM_CREDENTIALS, belongs to the app. Stored descriptors
// (fdstore.go) are deduplicated by open file description, capped by
// FDStoreMax, dropped when they hang up (unless FDPOLL=0), recorded in the
// store as system continuations of one slot (role "fdstore", no expiry) and
// handed to every start of the main process after the listening sockets,
// named in LISTEN_FDNAMES. Sockets with Accept are accepted on by the
// supervisor, which runs the app's command once per connection with the
// connection on stdin, stdout and fd 3 (accept_linux.go), at most
// MaxConnections at once. ConfigureServices reads a directory of service
// files (docs/services.md) and starts them in dependency order; Reload
// applies a changed directory; StartService, StopService and
// RestartService are the operator's start, stop and restart. Upgrade
// replaces an app's program under its live sessions (upgrade.go): suspend
// every session, start the main process again from the new program,
// check the continuations' compat tags against the new version's vector,
// resume each under the new program (per session falling back to the old
// one).
//
// # Caveats
//
// An app killed while it handles a SuspendRequest leaves its session
// registered, not suspended: Suspend fails with ErrNoProcess and nothing is
// stored. When the connection that registered an active session closes
// (the process died or never said SessionClose), the session stays
// registered with no process to ask, so it can no longer be suspended, and
// its held duplicate is closed at once: the supervisor never keeps a
// client's connection open after the app has let go of it.
//
// Without cgroups, identity by ancestry is weaker: a process that
// double-forks away from the app's tree belongs to no app (the subreaper
// keeps it a child of the supervisor, but not a known one).
//
// A restarted supervisor (New over an existing store) cannot get back the
// descriptors the previous run held. Continuations it finds in suspending,
// suspended or resuming are marked lost, except those whose slots are all
// regular files or directories that can be opened again by path with the
// same flags and offset: those are reopened, held, and kept suspended under
// their app's name, to be resumed once an app of that name runs. Sessions
// left active are closed. The store records the boot id and a per-run id.
//
// A live session's attribute/value store is kept in memory and written
// into its continuation at suspend; a held continuation's store may be
// changed in memory by its resumed process. Neither is on disk until the
// next suspend.
//
// The control socket is 0600 in a 0711 directory, so only the supervisor's
// uid (and root) can connect: an app that runs as another user (AppSpec.User)
// cannot reach it unless the operator opens the socket up; its peers are
// still told apart by cgroup, whatever the file mode.
//
// As root, apps' cgroups live under Config.CgroupParent, which a supervisor
// holds exclusively while it runs: an flock on
// /run/migrate/cgroup-<parent, '/' escaped>.lock (the directory of
// DefaultSocket), taken by New without waiting and let go when Run returns
// (the kernel lets go of it when a supervisor dies). A second supervisor on
// the parent fails in New with a *ParentInUseError naming the holder's pid.
// So a cgroup of an app's name found under the parent is a dead run's
// leftover, and StartApp destroys it (its processes killed, their pids
// logged). Supervisors in different mount namespaces with different /run
// do not see each other's locks.
//
// Apps are started in a process group of their own (so a terminal's Ctrl-C
// reaches migrate-run, which stops them), which makes an app that reads the
// terminal a background job.
//
// An app with AppSpec.Capture (every app started over the admin API, as
// migrate-run does when a migrated answers, and every service) writes its
// standard output and error into pipes the supervisor reads: it no longer
// sees a terminal there, and its lines reach the starter's descriptors
// after the supervisor read them, possibly after migrate-run returned. A
// starter's descriptor that stops draining (a terminal paused with ^S)
// stalls that stream as it would the app writing to it directly; a
// non-blocking one is given up after 5 s, and the lines are still kept.
// A stopped app's ring goes with it: Logs answers only for apps the
// supervisor still lists.
//
// A notify message is matched to its app by the sender's cgroup (or,
// without cgroups, its ancestry), read when the message is: a sender that
// exits at once after sending (systemd-notify run from a shell script) may
// be gone by then, and its message is dropped. Send from the main process,
// or use systemd-notify --pid=parent as root. An fd store dies with the
// supervisor (its descriptors cannot be reopened): a restarted supervisor
// marks its records lost.
package supervisor
