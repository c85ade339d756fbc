//go:build linux

package launcher

import (
	"encoding/json"
	"io"
	"os"
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// The test binary doubles as the app of the tests: started with helperEnv
// set, TestMain hands it to runHelper instead of running tests. Modes:
//
//	report  write a helperReport as JSON to descriptor reportTarget
//	byte    write one byte to descriptor 3
//	exit    exit with the status in exitEnv
//	wait    read descriptor 0 until EOF
//	nofile  start sh -c 'ulimit -Sn' with each mode, see TestNofileRestored
//	mode    write the launcher's mode to standard output
const (
	helperEnv    = "LAUNCHER_TEST_HELPER"
	exitEnv      = "LAUNCHER_TEST_EXIT"
	reportTarget = 9
)

// helperReport is what a helper in report mode tells about itself.
type helperReport struct {
	Pid, Pgid, Sid int
	Cwd            string
	Env            []string
	TTY            int            // tty_nr of /proc/self/stat: the controlling terminal
	FDs            map[int]fdInfo // at init, before any code of the app
	Cgroup         string         // /proc/self/cgroup at init, before any code of the app
}

// fdInfo identifies an open descriptor.
type fdInfo struct {
	Dev, Ino uint64
	Link     string // the /proc/self/fd link
	Cloexec  bool   // set: the Go runtime opened it after exec, it was not inherited
	Flags    int    // F_GETFL
}

// atInit is the helper's state as early as Go lets a program look: package
// initialisation, before TestMain. Nothing writes cgroup.procs or passes
// descriptors after the launcher's execve, so this is the state at the
// app's first instruction, less what the Go runtime opened itself, which is
// close-on-exec.
var atInit struct {
	fds    map[int]fdInfo
	cgroup string
}

func init() {
	if os.Getenv(helperEnv) == "" {
		return
	}
	b, _ := os.ReadFile("/proc/self/cgroup")
	atInit.cgroup = string(b)
	atInit.fds = describeFDs()
}

func describeFDs() map[int]fdInfo {
	names, _ := readDirNames("/proc/self/fd")
	fds := make(map[int]fdInfo, len(names))
	for _, name := range names {
		fd, _ := strconv.Atoi(name)
		var st unix.Stat_t
		if unix.Fstat(fd, &st) != nil {
			continue // the listing's own descriptor
		}
		fdFlags, _ := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
		flags, _ := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
		link, _ := os.Readlink("/proc/self/fd/" + name)
		fds[fd] = fdInfo{Dev: uint64(st.Dev), Ino: st.Ino, Link: link, Cloexec: fdFlags&unix.FD_CLOEXEC != 0, Flags: flags}
	}
	return fds
}

func readDirNames(dir string) ([]string, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return f.Readdirnames(-1)
}

func runHelper(mode string) {
	switch mode {
	case "report":
		writeReport()
	case "byte":
		_, _ = unix.Write(3, []byte{1})
	case "exit":
		code, _ := strconv.Atoi(os.Getenv(exitEnv))
		os.Exit(code)
	case "wait":
		_, _ = io.Copy(io.Discard, os.Stdin)
	case "nofile":
		nofileHelper()
	case "mode":
		_, _ = os.Stdout.WriteString(currentMode().String())
	default:
		os.Exit(2)
	}
	os.Exit(0)
}

func writeReport() {
	r := helperReport{Pid: os.Getpid(), Env: os.Environ(), FDs: atInit.fds, Cgroup: atInit.cgroup}
	r.Pgid, _ = unix.Getpgid(0)
	r.Sid, _ = unix.Getsid(0)
	r.Cwd, _ = unix.Getwd()
	if stat, err := os.ReadFile("/proc/self/stat"); err == nil {
		// pid (comm) state ppid pgrp session tty_nr ...; comm may hold spaces.
		fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
		r.TTY, _ = strconv.Atoi(fields[4])
	}
	b, _ := json.Marshal(r)
	for len(b) > 0 {
		n, err := unix.Write(reportTarget, b)
		if err != nil {
			os.Exit(3)
		}
		b = b[n:]
	}
}

// helperSpec describes running the test binary as a helper in mode.
func helperSpec(t testing.TB, mode string) Spec {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return Spec{Process: &specs.Process{
		Args: []string{exe},
		Env:  []string{helperEnv + "=" + mode},
		Cwd:  "/",
		User: currentUser(t),
	}}
}

// runReport starts spec, a helper in report mode, with a pipe at reportTarget,
// and returns its report once it has exited with status 0, and the read end
// of that pipe, the same pipe as the helper had at reportTarget.
func runReport(t *testing.T, spec Spec) (*helperReport, *Process, rawFD) {
	t.Helper()
	r, w := pipe(t)
	spec.Files = append(spec.Files, FD{Target: reportTarget, FD: w.n})
	p := start(t, spec)
	w.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	wait(t, p)
	var rep helperReport
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatalf("helper report %q: %v", b, err)
	}
	return &rep, p, r
}
