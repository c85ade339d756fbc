// Command migratectl inspects and drives a migrate supervisor — the daemon
// migrated, or the one migrate-run embeds — over its control socket.
//
//	migratectl [--socket PATH] [--state-dir DIR] [--json] [--timeout D] COMMAND
//
//	services                        every service: state, pid, uptime, restarts, readiness
//	status NAME [-n N]              one service in detail, and its last output lines
//	start|stop|restart NAME         act on a service
//	reload                          read the service directory again, apply what changed
//	logs NAME [-f] [-n N]           a service's captured output
//	apps                            the running apps and their processes (services is wider)
//	sessions [--app A]              live sessions
//	list [--app A] [--state S]      stored continuations
//	show ID [--values]              one continuation: slots, store, exec
//	suspend SESSION                 suspend a session (and its dependents)
//	resume ID                       resume a continuation, wait until it runs
//	drop ID                         discard a suspended continuation
//	gc                              expire what is due now
//	stats                           counts and descriptor accounting
//	completion bash|zsh|fish|powershell
//
// Human output is aligned tables (status a systemctl-status-like block);
// --json prints the supervisor's reply document as it is, one JSON value
// per command. Errors go to stderr as "migratectl: ..."; the exit status is
// 1 when the operation failed (an unknown service or continuation, a start
// that left the service failed, a broken service directory on reload) and
// 2 when the command line is wrong. Shell completion offers the services'
// names (from the supervisor's services, or its apps when it is older) and
// the ids of sessions and continuations.
//
// The socket defaults to the supervisor's own default
// (/run/migrate/migrated.sock as root, $XDG_RUNTIME_DIR/migrate/migrated.sock
// otherwise), so migratectl reaches a migrated and a migrate-run alike. The
// supervisor answers only its own uid and root, and only processes outside
// its apps.
//
// When no supervisor listens on the socket, list, show, sessions and stats
// read the continuation store in --state-dir read-only instead and say so
// on stderr; what only a running supervisor knows is left out. A store
// locked by a running supervisor that does not answer on the socket is an
// error naming the holder.
package main

import (
	"io"
	"os"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// Exit statuses.
const (
	exitOK    = 0
	exitFail  = 1 // the operation failed
	exitUsage = 2 // the command line is wrong
)

// run executes one command line and returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	cli := newCLI(stdout, stderr)
	cmd := cli.command()
	cmd.SetArgs(args)
	err := cmd.Execute()
	if err == nil {
		return exitOK
	}
	cli.printErr(err)
	if !cli.started || isUsage(err) {
		return exitUsage
	}
	return exitFail
}
