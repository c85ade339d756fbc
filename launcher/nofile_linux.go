//go:build linux

package launcher

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// The Go runtime raises the soft RLIMIT_NOFILE of every Go program to the
// hard limit less one, and syscall.StartProcess and syscall.Exec put the
// original back in the child: so does the trampoline, and the app starts
// with the soft limit the supervisor was started with. The direct child
// must do the same, but the original is private to package syscall. When
// the soft limit is one the runtime may have raised, it is learnt once from
// a probe: the running binary, started by syscall.StartProcess (so with the
// original limit), raises it in its runtime, then calls syscall.Exec on a
// directory, which puts the original back before execve fails, and reports
// the limit it then has.
const (
	nofileProbeArg0 = "migrate-launcher-nofile-probe"
	nofileProbeEnv  = "_MIGRATE_LAUNCHER_NOFILE_FD"
)

func init() {
	if len(os.Args) != 1 || os.Args[0] != nofileProbeArg0 {
		return
	}
	v, ok := syscall.Getenv(nofileProbeEnv)
	if !ok {
		return
	}
	fd, err := strconv.Atoi(v)
	if err != nil || fd < 0 {
		return
	}
	_ = syscall.Exec("/", []string{"/"}, nil) // EACCES, after restoring the limit
	var lim syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim) != nil {
		os.Exit(exitFailed)
	}
	if _, err := unix.Write(fd, []byte(fmt.Sprintf("%d %d\n", lim.Cur, lim.Max))); err != nil {
		os.Exit(exitFailed) // one short write to an empty pipe: all or nothing
	}
	os.Exit(0)
}

var nofile struct {
	once    sync.Once
	restore *syscall.Rlimit // nil: nothing to restore
	err     error
}

// nofileRestore returns the soft RLIMIT_NOFILE the direct child restores, as
// syscall.StartProcess would, or nil when there is nothing to restore. An
// error means it could not be learnt: the direct path is not used.
func nofileRestore() (*syscall.Rlimit, error) {
	nofile.once.Do(func() {
		var cur syscall.Rlimit
		if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &cur); err != nil {
			nofile.err = err
			return
		}
		if cur.Max == 0 || cur.Cur != cur.Max-1 {
			return // the runtime raised nothing (or someone set it since): as StartProcess, restore nothing
		}
		orig, err := probeNofile()
		if err != nil {
			nofile.err = err
			return
		}
		if orig.Max == cur.Max && orig.Cur < cur.Cur {
			nofile.restore = orig
		}
	})
	return nofile.restore, nofile.err
}

// probeNofile runs the probe and returns the limit it reports.
func probeNofile() (*syscall.Rlimit, error) {
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		return nil, err
	}
	r, w := p[0], p[1]
	defer unix.Close(r)
	attr := &syscall.ProcAttr{
		Env:   []string{nofileProbeEnv + "=3"},
		Files: []uintptr{closedSlot, closedSlot, closedSlot, uintptr(w)},
	}
	pid, _, err := syscall.StartProcess(selfExe, []string{nofileProbeArg0}, attr)
	unix.Close(w)
	if err != nil {
		return nil, fmt.Errorf("probe RLIMIT_NOFILE: %w", err)
	}
	b, readErr := readAll(r, 128)
	for {
		if _, err := syscall.Wait4(pid, nil, 0, nil); err != syscall.EINTR {
			break // ECHILD: the caller's reaper took it
		}
	}
	if readErr != nil {
		return nil, fmt.Errorf("probe RLIMIT_NOFILE: %w", readErr)
	}
	var lim syscall.Rlimit
	if _, err := fmt.Sscanf(strings.TrimSpace(string(b)), "%d %d", &lim.Cur, &lim.Max); err != nil {
		return nil, fmt.Errorf("probe RLIMIT_NOFILE: report %q: %w", b, err)
	}
	return &lim, nil
}
