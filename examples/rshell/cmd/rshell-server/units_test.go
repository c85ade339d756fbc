//go:build linux

package main

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/migrate-run/migrate/examples/rshell/wire"
)

func TestStatusLines(t *testing.T) {
	if pid, err := parseStarted(strings.TrimSuffix(pidLine(4242), "\n")); pid != 4242 || err != nil {
		t.Errorf("pid line: %d, %v", pid, err)
	}
	if _, err := parseStarted(strings.TrimSuffix(failLine(errors.New("no\nsuch shell")), "\n")); err == nil || err.Error() != "no such shell" {
		t.Errorf("fail line: %v, want the error on one line", err)
	}
	for _, bad := range []string{"", "pid", "pid 0", "pid -1", "pid 01", "pid 1 2", "pid 99999999999", "exit 0"} {
		if _, err := parseStarted(bad); !errors.Is(err, errBadStatus) {
			t.Errorf("first line %q: %v, want errBadStatus", bad, err)
		}
	}
	for _, c := range []struct {
		read string
		want wire.Exit
	}{
		{waitLine(syscall.WaitStatus(3 << 8)), wire.Exit{How: wire.Exited, Code: 3}},
		{waitLine(syscall.WaitStatus(9)), wire.Exit{How: wire.Signaled, Code: 9}},
		{"", wire.Exit{How: wire.Unknown, Message: "the shell's waiter ended without its status"}},
		{"exit 256\n", wire.Exit{How: wire.Unknown, Message: "the shell's waiter ended without its status"}},
		{"signal 0\n", wire.Exit{How: wire.Unknown, Message: "the shell's waiter ended without its status"}},
		{"exit 1", wire.Exit{How: wire.Exited, Code: 1}}, // its newline lost: the line is whole anyway
	} {
		if got := exitOf([]byte(c.read)); got != c.want {
			t.Errorf("status %q: %+v, want %+v", c.read, got, c.want)
		}
	}
}

func TestShellArgvAndEnv(t *testing.T) {
	for _, c := range []struct {
		login   bool
		command string
		want    []string
	}{
		{true, "", []string{"-bash"}},
		{false, "", []string{"bash"}},
		{true, "ls -l", []string{"bash", "-c", "ls -l"}},
	} {
		if got := shellArgv(options{shell: "/bin/bash", login: c.login}, wire.Hello{Command: c.command}); !slices.Equal(got, c.want) {
			t.Errorf("login %v, command %q: argv %q, want %q", c.login, c.command, got, c.want)
		}
	}
	t.Setenv("MIGRATE_SOCKET", "/run/x")
	t.Setenv("LISTEN_FDS", "1")
	t.Setenv("TERM", "dumb")
	t.Setenv("KEEP_ME", "yes")
	env := shellEnv("/bin/sh", "vt100", "127.0.0.1:9")
	for _, kv := range env {
		if strings.HasPrefix(kv, "MIGRATE_") || strings.HasPrefix(kv, "LISTEN_") || kv == "TERM=dumb" {
			t.Errorf("the shell's environment has %s", kv)
		}
	}
	for _, want := range []string{"KEEP_ME=yes", "TERM=vt100", "SHELL=/bin/sh", "RSHELL_CLIENT=127.0.0.1:9"} {
		if !slices.Contains(env, want) {
			t.Errorf("the shell's environment lacks %s", want)
		}
	}
	if env := shellEnv("/bin/sh", "", "x"); slices.ContainsFunc(env, func(kv string) bool { return strings.HasPrefix(kv, "TERM=") }) {
		t.Error("a client without TERM gave the shell one")
	}
}

func TestFindShell(t *testing.T) {
	t.Setenv("SHELL", "/bin/sh")
	if got, err := findShell(""); err != nil || got != "/bin/sh" {
		t.Errorf("with SHELL=/bin/sh: %q, %v", got, err)
	}
	t.Setenv("SHELL", "relative")
	if got, err := findShell(""); err != nil || got == "relative" || !filepath.IsAbs(got) {
		t.Errorf("with a relative SHELL: %q, %v; want /bin/bash or /bin/sh", got, err)
	}
	notExec := filepath.Join(t.TempDir(), "sh")
	os.WriteFile(notExec, nil, 0o644)
	if _, err := findShell(notExec); err == nil {
		t.Errorf("a shell that is not executable was accepted")
	}
}

func TestParseState(t *testing.T) {
	if st, err := parseState([]byte(`{"format":"1","shell":5,"waiter":4,"pty":3,"pts":0,"status":7,"toClient":"AAE="}`)); err != nil ||
		st.Shell != 5 || st.PTY != 3 || st.Status != 7 || string(st.ToClient) != "\x00\x01" {
		t.Errorf("a good state: %+v, %v", st, err)
	}
	for _, bad := range []string{
		``, `[]`, `{"format":"1"}`,
		`{"format":"1","shell":5,"waiter":4,"pty":3,"pts":0,"status":3}`,
		`{"format":"1","shell":5,"waiter":4,"pty":-1,"pts":0,"status":3}`,
		`{"format":"1","shell":5,"waiter":4,"pty":3,"pts":0,"status":7,"toClient":"not base64"}`,
	} {
		if _, err := parseState([]byte(bad)); !errors.Is(err, errBadState) {
			t.Errorf("state %q: %v, want errBadState", bad, err)
		}
	}
}
