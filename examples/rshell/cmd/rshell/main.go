//go:build linux

// Command rshell is the client of rshell-server: a remote shell over one
// TCP connection, speaking the framed protocol of package wire.
//
//	rshell --addr HOST:PORT [COMMAND...]
//
// On a terminal it puts the terminal in raw mode, sends its TERM and size
// (and every change of size, on SIGWINCH), and relays keystrokes and
// output until the remote shell ends; it exits with the shell's status
// (128+N for a signal N, 255 when unknown or when the connection is lost,
// as ssh does). With a COMMAND the remote shell runs it (shell -c) instead
// of an interactive session. When standard input is not a terminal its end
// is sent as the pty's end-of-file character.
//
// The server may be suspended and resumed, or replaced, while a session
// runs: the connection stays open, and the client sees a pause.
package main

import (
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"
)

const prog = "rshell"

// dialTimeout bounds the connection's establishment.
const dialTimeout = 10 * time.Second

// exitLost is the status when the session's end was not learnt.
const exitLost = 255

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, stdin *os.File, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet(prog, flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "", "the server's HOST:PORT")
	if err := fs.Parse(args); err != nil || *addr == "" {
		if err == nil {
			fmt.Fprintln(stderr, prog+": --addr is required")
		}
		fs.Usage()
		return 2
	}
	conn, err := net.DialTimeout("tcp", *addr, dialTimeout)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", prog, err)
		return exitLost
	}
	defer conn.Close()
	c := &client{conn: conn, stdin: stdin, stdout: stdout, stderr: stderr}
	return c.session(strings.Join(fs.Args(), " "))
}
