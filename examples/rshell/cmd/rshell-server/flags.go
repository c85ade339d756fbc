//go:build linux

package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
)

// Subcommands of the program's own processes.
const (
	serveCmd  = "serve"  // a listener's per-connection child
	waiterCmd = "waiter" // the shell's parent, which reports its status
)

// options are the flags every server process takes.
type options struct {
	addr  string
	shell string // absolute path, resolved by parseFlags
	login bool
}

// parseFlags parses args; listener says whether --addr is accepted.
func parseFlags(name string, args []string, stderr io.Writer, listener bool) (options, bool) {
	var o options
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	if listener {
		fs.StringVar(&o.addr, "addr", "", "listen on HOST:PORT when no socket is passed (LISTEN_FDS)")
	}
	fs.StringVar(&o.shell, "shell", "", "the shell to run (default: $SHELL, else /bin/bash, else /bin/sh)")
	fs.BoolVar(&o.login, "login", true, "run the shell as a login shell (argv[0] starting with -)")
	if err := fs.Parse(args); err != nil || fs.NArg() > 0 {
		if err == nil {
			fmt.Fprintf(stderr, "%s: unexpected argument %q\n", name, fs.Arg(0))
		}
		fs.Usage()
		return o, false
	}
	shell, err := findShell(o.shell)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return o, false
	}
	o.shell = shell
	return o, true
}

// childArgs are the flags a listener passes on to its children.
func (o options) childArgs() []string {
	return []string{"--shell", o.shell, fmt.Sprintf("--login=%t", o.login)}
}

// findShell resolves the shell: the one asked for, $SHELL, /bin/bash or
// /bin/sh, whichever comes first and is an executable file.
func findShell(asked string) (string, error) {
	if asked != "" {
		path, err := exec.LookPath(asked)
		if err != nil {
			return "", fmt.Errorf("shell %q: %w", asked, err)
		}
		return filepath.Abs(path)
	}
	for _, c := range []string{os.Getenv("SHELL"), "/bin/bash", "/bin/sh"} {
		if filepath.IsAbs(c) {
			if path, err := exec.LookPath(c); err == nil {
				return path, nil
			}
		}
	}
	return "", errors.New("no shell: neither $SHELL, /bin/bash nor /bin/sh is executable")
}
