// Package launcher starts a process exactly as described: an exec
// description (a runtime-spec Process), an exact descriptor layout, extra
// environment, a signal mask, session and process group, and the cgroups to
// run in, with no moment at which the app runs outside them (DESIGN.md,
// invariant 4). It decides nothing about what to start; the supervisor does.
//
// # Basics
//
// Build a Spec and call Start:
//
//	p, err := launcher.Start(launcher.Spec{
//		Process: &specs.Process{Args: []string{"app"}, Env: env, Cwd: "/srv/app", User: user},
//		Files: []launcher.FD{
//			{Target: 0, FD: null}, {Target: 1, FD: log}, {Target: 2, FD: log},
//			{Target: 3, FD: listener},
//		},
//		ExtraEnv:  []string{"LISTEN_FDS=1"},
//		ListenPID: true,
//		Cgroups:   dirs, // one directory per mounted hierarchy
//	})
//
// Start returns once the app's execve has succeeded, or with the reason it
// failed: ErrInvalidSpec or ErrUnsupported before anything started, a
// *StartError naming the failed step with its errno, or ErrTrampolineExited.
// A failed Start leaves nothing running and no descriptor open. Starts run
// concurrently.
//
// # Two ways to start
//
// Start has two ways to create the process, and takes the first that can
// honour the Spec on this machine:
//
//   - the direct path: the calling thread forks a child that shares its
//     memory (clone3 with CLONE_VM|CLONE_VFORK, and CLONE_INTO_CGROUP for a
//     cgroup v2 directory) and does the whole setup below with raw system
//     calls before it execs the app, the way syscall.StartProcess does its
//     own. No Go runtime starts in the child: a start costs about what a
//     fork and exec does. (BenchmarkStartConcurrent, 64 starts of /bin/true
//     at once on a busy 2-core machine: 0.9 ms per start and 0.6 ms of the
//     children's CPU, against 1.7 to 2.3 ms and 2.3 to 3.1 ms
//     through a trampoline.)
//   - the trampoline: a small Go program the parent executes first, which
//     does the setup and then execs the app. It is the fallback: for an
//     architecture without the direct path (all but amd64 for now), a
//     kernel without close_range(CLOSE_RANGE_CLOEXEC) (before 5.11) or
//     whose clone3 is refused (before 5.7 with a v2 directory, or a
//     seccomp filter), and when the Go runtime raised the soft
//     RLIMIT_NOFILE and the original could not be learnt (see below).
//
// Both give the app the same start: the steps, their order and their
// failures (the same StartError.Op) are those of the trampoline described
// below, and the tests of this package run once with each. SetMode, or the
// variable MIGRATE_LAUNCHER=trampoline in the environment of the binary
// that calls Start, forces the trampoline.
//
// The direct child runs in the parent's memory and on the calling
// goroutine's stack, with every signal blocked, until its execve: its code
// (direct_child_linux_amd64.go) is nosplit and norace, allocates nothing,
// writes no pointer, calls nothing but system calls, and reads only what
// the parent prepared before the fork: argv and environment as C strings,
// the PATH candidates of an execvp search, the layout, the rlimits, the
// opened tasks files of the v1 cgroups, and a buffer for each pid variable
// (LISTEN_PID, Spec.PIDEnv) that the child fills with its own pid. In
// order it joins the v1 cgroups by writing 0 to their tasks files (the v2
// one it was created in), makes its session or process group, places the
// layout as syscall.StartProcess does, sets the controlling terminal,
// marks every other descriptor close-on-exec (close_range), sets rlimits,
// oom_score_adj, umask, groups, gid, uid, the working directory and
// no_new_privs, writes the pid variables, gives every signal its default
// disposition, sets the mask, and execs. A failed step is written into the
// parent's memory (step, index, errno) and the child exits with 127; the
// parent, which the kernel resumes only once the child has exec'd or
// exited, turns it into the StartError the trampoline would have reported,
// and reaps the child. The runtime's own fork hooks
// (syscall.runtime_BeforeFork and AfterFork) block signals and forbid
// stack growth around the clone, as for syscall.StartProcess.
//
// The Go runtime raises its soft RLIMIT_NOFILE at start-up, and
// syscall.StartProcess puts the original back in its children; so do both
// paths, unless Process.Rlimits sets RLIMIT_NOFILE. The original is private
// to package syscall: when the soft limit is one the runtime may have
// raised (the hard limit less one), the direct path learns it once, from a
// probe: the running binary, started with the original limit, calls
// syscall.Exec on a directory (which puts the original back before execve
// fails) and reports the limit it then has. If the probe fails Start uses
// the trampoline. A limit set since with syscall.Setrlimit to exactly the
// hard limit less one is taken for a raised one.
//
// # The trampoline
//
// Go cannot run code between fork and exec in os/exec, so the fallback goes
// through a trampoline, as runc does with its init: it executes a trampoline binary
// (see Trampoline binary below: the small cmd/migrate-trampoline, or the
// running binary itself) with the descriptor layout already in place and,
// at the number just above the highest target, a close-on-exec unix socket
// on which the parent sends the rest of the description:
//
//	parent                                  trampoline
//	  │ fork+exec trampoline binary ─────────► │ clone3(CLONE_INTO_CGROUP)
//	  │   layout at its targets, socket above   │ puts it in the v2 cgroup
//	  │ ── config ────────────────────────────► │ joins the v1 cgroups, then
//	  │                                         │ rlimits, oom_score_adj, umask,
//	  │                                         │ groups, gid, uid, chdir,
//	  │                                         │ no_new_privs, LISTEN_PID,
//	  │                                         │ signal dispositions and mask
//	  │ ◄── "about to exec" ─────────────────── │
//	  │ ◄── EOF (execve closed the socket) ──── │ execve(app), PATH searched
//	  │ ◄── or {step, errno}, exit 127 ──────── │ like execvp
//
// The trampoline is created inside the v2 cgroup, and joins the cgroup v1
// directories first of all its steps, before it applies anything else of
// the config: no step of the app's setup, let alone the app, runs before
// it is in every cgroup, and the app is in them at its first instruction.
// It joins each v1 hierarchy by writing 0 to the directory's tasks file
// from the thread that will execve: a thread that moves itself is the one
// move the kernel makes without taking the global cgroup_threadgroup_rwsem
// for writing, which costs an RCU grace period whenever no other move
// happened in the last few milliseconds (about 8 ms on a quiet 2-core
// machine, where this way costs a tenth of a millisecond; a launch after a
// pause used to pay it). The trampoline's other runtime threads stay in
// the supervisor's v1 cgroups until the execve ends them; they never run
// the app. A refusal (say ENOSPC from a v1 cpuset without cpus) comes back
// as a join cgroup failure naming the directory. When clone3 is refused (an
// old kernel, a seccomp filter) Start retries once with a plain fork and
// the parent moves the trampoline into the v2 cgroup through cgroup.procs
// before it sends the config; Process.ClonedIntoCgroup tells which
// happened. The parent holds a pidfd of the trampoline from its creation,
// so killing a trampoline that failed cannot reach another process.
//
// Every descriptor outside the layout is closed in the app: the trampoline
// marks all of them close-on-exec, whether the supervisor leaked them without
// O_CLOEXEC or the trampoline's Go runtime opened them (it opens /dev/null on
// a missing 0, 1 or 2). Every signal starts with its default disposition, even
// one the supervisor ignores.
//
// # Trampoline binary
//
// Any binary that links launcher can serve as the trampoline, and Start
// uses one of two:
//
//   - the dedicated migrate-trampoline (cmd/migrate-trampoline), a binary
//     that links launcher and nothing else, so that it starts in the time
//     of the Go runtime alone. Start looks for it under that name
//     (TrampolineName) in the directory of the running executable, the
//     first time it needs a trampoline; SetTrampoline names it
//     explicitly. make build and make install put it beside migrated and
//     migrate-run.
//   - the running binary itself, through /proc/self/exe, when there is no
//     dedicated one, when it was refused, or after SetTrampoline(""): so a
//     test binary is its own trampoline. This runs the init functions of
//     every package the binary links (for migrated, some milliseconds of
//     them: cgroup, protobuf and compression libraries) before the
//     trampoline's own.
//
// The dedicated binary is opened once, and checked on that descriptor: a
// regular file, owned by root or by the caller's effective uid, not
// writable by its group or others, executable. A file that fails a check
// is refused (ErrUnsafeTrampoline) and Start uses the running binary;
// TrampolineInUse says which binary is in use and why there is no
// dedicated one. Each start executes the checked descriptor, placed in the
// child just above the config socket, as /proc/self/fd/N: a file renamed
// over the path afterwards is never run. The directory is trusted as the
// supervisor's own is.
//
// The dedicated binary may come from another build than the parent. The
// config starts with a protocol version (protocolVersion); a trampoline of
// another version refuses it, or fails to read it at all, and says so in a
// report whose format never changes. Start then drops the dedicated binary
// for good, tells why through TrampolineInUse, and starts the process again
// with the running binary: nothing of the app ran yet.
//
// The trampoline is cheap but not free, and it is CPU spent in the app's
// cgroups on every start. With the dedicated binary a start of /bin/true
// took about 1.8 ms and 2 ms of the children's CPU on a 2-core machine
// that was busy with other work, against 3.8 to 4.4 ms and 4 to 4.8 ms
// with migrated's binary as the trampoline. (BenchmarkStart and
// BenchmarkStartConcurrent compare the dedicated binary with the test
// binary, whose inits are cheap.) What remains is mostly the Go runtime's own
// start-up and the two execve calls: the trampoline's work proper (reading
// and applying the config, whose binary form needs no reflection) is about
// a tenth of it. It blocks on its socket in raw system calls and never
// calls LockOSThread, so that the runtime starts no more threads than it
// must (two besides the main one).
//
// # Caveats
//
// Every binary that imports launcher, directly or not, carries the
// trampoline: an init function that takes over the process when it is
// started with argv exactly ["migrate-trampoline"] and the variable
// _MIGRATE_LAUNCHER_CONFIG_FD set, and otherwise does nothing. Init
// functions of packages initialised before launcher also run in the
// trampoline; they must not have side effects (descriptors they open are
// closed at exec all the same). Test binaries are no exception, which is how
// this package's own tests start processes.
//
// The caller owns the descriptors in Spec.Files: Start duplicates them into
// the child and neither closes nor changes them, and never calls
// os.File.Fd, which would make a shared socket blocking (golang/go#43894).
// Status flags such as O_NONBLOCK belong to the open file description, which
// the child shares: the app sees the socket nonblocking if the supervisor's
// copy is, and if the app changes the flag the supervisor's copy changes
// too.
//
// Launcher never reaps. The caller reaps the process, with Process.Wait or
// with its own wait4 loop; with the latter, call Process.Release instead.
// Start does reap a trampoline that failed; a wait4(-1) reaper running in
// the supervisor may see such a pid first, and must ignore pids it did not
// get from Start. Pdeathsig is not used: it follows the creating thread,
// not the process, so tearing an app down is the cgroup's job.
//
// The trampoline is a Go program and lives, for a millisecond or more, inside
// the app's cgroups: it counts a few threads and a few megabytes there.
// A pids.max below 8 or a memory limit of that order can make it fail with
// ErrTrampolineExited. (The direct child is one thread, in the parent's
// memory until its execve.) Joining the v1 hierarchies costs the trampoline a
// few tens of microseconds each; clone3 into the v2 cgroup is free, but
// the cgroup.procs write that replaces it where clone3 is refused may cost
// an RCU grace period.
//
// Start needs /proc (for /proc/self/exe and /proc/self/fd) and blocks until
// the trampoline reports, or the direct child has exec'd: an execve that
// hangs, on a dead network file system say, or a v1 freezer cgroup that is
// frozen, blocks it too (with the direct path, an OS thread with it, as
// syscall.StartProcess would).
// User is applied as written, so its zero value means root with no
// supplementary groups; CurrentUser gives the caller's own credentials.
package launcher
