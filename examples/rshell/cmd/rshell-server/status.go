//go:build linux

package main

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"syscall"

	"github.com/migrate-run/migrate/examples/rshell/wire"
)

// The waiter tells the server about the shell on the status pipe, one line
// each, each written at once (a pipe write of less than PIPE_BUF is never
// split):
//
//	pid N        the shell started as process N
//	fail TEXT    it could not start
//	exit N       it exited with status N
//	signal N     it was killed by signal N
//
// then closes the pipe by exiting. The pipe outlives any server: a
// suspended one hands its read end over with the session, so the last
// server of the session learns how the shell ended, whichever started it.

// errBadStatus is returned for a status line the waiter never writes.
var errBadStatus = errors.New("bad status line")

func pidLine(pid int) string    { return fmt.Sprintf("pid %d\n", pid) }
func failLine(err error) string { return "fail " + strings.ReplaceAll(err.Error(), "\n", " ") + "\n" }
func waitLine(ws syscall.WaitStatus) string {
	if ws.Signaled() {
		return fmt.Sprintf("signal %d\n", ws.Signal())
	}
	return fmt.Sprintf("exit %d\n", ws.ExitStatus())
}

// parseStarted parses the waiter's first line: the shell's pid, or why it
// did not start.
func parseStarted(line string) (int, error) {
	if text, ok := strings.CutPrefix(line, "fail "); ok {
		return 0, errors.New(text)
	}
	pid, err := number(line, "pid ", 1<<22)
	if err != nil || pid == 0 {
		return 0, fmt.Errorf("%w: %q, want pid N", errBadStatus, line)
	}
	return pid, nil
}

// exitOf reads what the waiter wrote after its first line, once the pipe
// reached its end: how the shell ended, or Unknown when the waiter ended
// without saying (it was killed).
func exitOf(read []byte) wire.Exit {
	for _, line := range strings.Split(string(bytes.TrimSuffix(read, []byte("\n"))), "\n") {
		if code, err := number(line, "exit ", 255); err == nil {
			return wire.Exit{How: wire.Exited, Code: uint8(code)}
		}
		if sig, err := number(line, "signal ", 64); err == nil && sig > 0 {
			return wire.Exit{How: wire.Signaled, Code: uint8(sig)}
		}
	}
	return wire.Exit{How: wire.Unknown, Message: "the shell's waiter ended without its status"}
}

// number parses prefix followed by a decimal up to max.
func number(line, prefix string, max uint64) (int, error) {
	text, ok := strings.CutPrefix(line, prefix)
	if !ok {
		return 0, fmt.Errorf("%w: %q", errBadStatus, line)
	}
	n, err := strconv.ParseUint(text, 10, 32)
	if err != nil || n > max || text != strconv.FormatUint(n, 10) {
		return 0, fmt.Errorf("%w: %q", errBadStatus, line)
	}
	return int(n), nil
}
