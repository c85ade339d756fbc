//go:build linux

package main

import (
	"os"
	"os/exec"
	"os/signal"
	"syscall"

	"golang.org/x/sys/unix"
)

// Descriptors the server gives the waiter.
const (
	waiterSlaveFD  = 3 // the pty slave, for the shell
	waiterStatusFD = 4 // the write end of the status pipe
)

// waiter is the shell's parent: it starts the shell (argv: path, argv[0],
// arguments) on the pty slave as its controlling terminal in a session of
// its own, reports its pid, waits for it and reports how it ended on the
// status pipe. It is a process apart from the server so that the shell
// keeps a parent that can wait for it while servers come and go: a
// suspended server exits, and a resumed one is not the shell's parent.
func waiter(args []string, log func(string, ...any)) int {
	if len(args) < 2 {
		log("waiter: want the shell's path and argv[0]")
		return 2
	}
	for _, fd := range []int{waiterSlaveFD, waiterStatusFD} {
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFD, unix.FD_CLOEXEC); err != nil {
			log("waiter: descriptor %d: %v", fd, err)
			return 1
		}
	}
	slave, status := os.NewFile(waiterSlaveFD, "pty slave"), os.NewFile(waiterStatusFD, "status pipe")
	// The waiter outlives whatever signals the server's process group
	// gets: caught and dropped, not ignored, since an ignored signal
	// stays ignored in the shell.
	signal.Notify(make(chan os.Signal, 1), unix.SIGHUP, unix.SIGINT, unix.SIGTERM, unix.SIGQUIT)
	shell := &exec.Cmd{
		Path: args[0], Args: args[1:], Env: os.Environ(), Dir: homeDir(),
		Stdin: slave, Stdout: slave, Stderr: slave,
		SysProcAttr: &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0},
	}
	err := shell.Start()
	slave.Close() // the shell's alone: EIO on the master once it and its jobs are gone
	if err != nil {
		status.WriteString(failLine(err))
		return 1
	}
	status.WriteString(pidLine(shell.Process.Pid))
	shell.Wait()
	status.WriteString(waitLine(shell.ProcessState.Sys().(syscall.WaitStatus)))
	return 0
}

// homeDir is where a login starts: $HOME if it is a directory, else /.
func homeDir() string {
	if home, err := os.UserHomeDir(); err == nil {
		if st, err := os.Stat(home); err == nil && st.IsDir() {
			return home
		}
	}
	return "/"
}
