//go:build linux

package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"

	"github.com/migrate-run/migrate"
	"github.com/migrate-run/migrate/examples/rshell/proxy"
	"github.com/migrate-run/migrate/examples/rshell/pty"
	"golang.org/x/sys/unix"
)

// resume takes the session over from the continuation this process was
// started for: the connection (MIGRATE_CONT), the state, the pty master
// and the status pipe at their old numbers; then registers the session,
// confirms, and serves on.
func resume(log func(string, ...any)) int {
	ctx := context.Background()
	r, _, err := migrate.Resumed(ctx)
	if err != nil {
		log("%v", err)
		return 1
	}
	s, err := takeOver(ctx, r, log)
	if err != nil {
		log("resume cont %d: %v", r.Cont, err)
		return 1 // the supervisor keeps the continuation
	}
	log("resumed cont %d from old pid %d: shell %d %s on /dev/pts/%d", r.Cont, r.OldPID, s.st.Shell, shellState(s.st), s.st.PTS)
	return s.run(proxy.Pending{ToClient: s.st.ToClient, FromClient: s.st.FromClient}, s.st.StatusRead)
}

// takeOver builds the server of a resumed session. On error it has
// confirmed nothing, and closes what it adopted.
func takeOver(ctx context.Context, r *migrate.Resumption, log func(string, ...any)) (*server, error) {
	v, err := r.Retrieve(ctx, storeKey)
	if err != nil {
		return nil, err
	}
	st, err := parseState(v)
	if err != nil {
		return nil, err
	}
	conn, ok := r.Conn.(syscall.Conn)
	if !ok {
		return nil, fmt.Errorf("the connection %T has no descriptor", r.Conn)
	}
	s := &server{log: log, conn: r.Conn, st: st, stdio: stdioOf(conn)}
	if err := s.adopt(ctx, r); err != nil {
		s.conn.Close()
		s.pty.Close() // a nil *os.File's Close does nothing
		s.status.Close()
		return nil, err
	}
	return s, nil
}

// adopt takes the pty master and the status pipe over, registers the
// session and confirms the resume.
func (s *server) adopt(ctx context.Context, r *migrate.Resumption) error {
	var err error
	if s.pty, err = pty.Adopt(s.st.PTY); err != nil {
		return err
	}
	if s.status, err = adoptPipe(s.st.Status); err != nil {
		return err
	}
	if s.sess, err = r.Register(ctx, migrate.WithName("rshell "+s.st.Peer), migrate.WithHandler(migrate.Complete)); err != nil {
		return err
	}
	return r.Confirm(ctx)
}

// adoptPipe takes over the status pipe's read end inherited at fd:
// close-on-exec, non-blocking, in the poller.
func adoptPipe(fd int) (*os.File, error) {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFIFO {
		return nil, fmt.Errorf("%w: descriptor %d is not the status pipe", errBadState, fd)
	}
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFD, unix.FD_CLOEXEC); err != nil {
		return nil, os.NewSyscallError("fcntl F_SETFD", err)
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		return nil, os.NewSyscallError("fcntl F_SETFL", err)
	}
	return os.NewFile(uintptr(fd), "status pipe"), nil
}

// shellState says whether the session's shell still runs: the process of
// its pid leads a session whose controlling terminal is the session's pty
// (a pid reused by another process would not). Gone, it has left its
// status in the pipe.
func shellState(st state) string {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(st.Shell) + "/stat")
	if err != nil {
		return "gone"
	}
	// pid (comm) state ppid pgrp session tty_nr ...; comm may hold spaces.
	f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
	if len(f) > 4 && f[3] == strconv.Itoa(st.Shell) && f[4] == strconv.FormatUint(pty.TTYNr(st.PTS), 10) {
		return "alive"
	}
	return "gone"
}
