//go:build linux

package launcher

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// Directory names that change a copy of the test binary run as a
// trampoline from there: it speaks another protocol version, or its kernel
// seems to have no close_range(2).
const (
	otherProtocolDir = "other-protocol"
	noCloseRangeDir  = "no-close-range"
)

// Package variables are initialised before any init function, the
// trampoline's included.
var _ = func() bool {
	exe, _ := os.Executable()
	switch filepath.Base(filepath.Dir(exe)) {
	case otherProtocolDir:
		protocolVersion++
	case noCloseRangeDir:
		closeRange = func(uint, uint, uint) error { return unix.ENOSYS }
	}
	return true
}()

// copyTestBinary copies the test binary, which carries the trampoline like
// every binary that links launcher, to dir/TrampolineName with mode perm.
func copyTestBinary(t *testing.T, dir string, perm os.FileMode) string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.Open(self)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, TrampolineName)
	dst, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o700)
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.Copy(dst, src)
	if closeErr := dst.Close(); err == nil {
		err = closeErr
	}
	if err == nil {
		err = os.Chmod(path, perm) // past the umask
	}
	if err != nil {
		t.Fatal(err)
	}
	return path
}

// resetTrampoline forgets the trampoline choice when the test ends, so the
// next Start makes it again (and finds no dedicated binary beside the test
// binary).
func resetTrampoline(t *testing.T) {
	t.Cleanup(func() {
		tramp.Lock()
		defer tramp.Unlock()
		if tramp.exe != nil {
			unix.Close(tramp.exe.fd)
		}
		tramp.chosen, tramp.exe, tramp.why = false, nil, nil
	})
}

// procExe returns the binary process pid runs.
func procExe(t *testing.T, pid int) string {
	t.Helper()
	exe, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/exe")
	if err != nil {
		t.Fatal(err)
	}
	return exe
}

// TestDedicatedTrampoline: with SetTrampoline, Start executes that binary,
// by its descriptor, as the trampoline, and the app gets exactly its layout
// (not the binary's descriptor, not the config socket), its cgroups and
// the failures of its steps as with the running binary.
func TestDedicatedTrampoline(t *testing.T) {
	trampolineOnly(t)
	checkLeaks(t)
	resetTrampoline(t)
	path := copyTestBinary(t, t.TempDir(), 0o755)
	if err := SetTrampoline(path); err != nil {
		t.Fatalf("SetTrampoline: %v", err)
	}
	if got, why := TrampolineInUse(); got != path || why != nil {
		t.Fatalf("TrampolineInUse = %s, %v; want %s, nil", got, why, path)
	}
	var ran []string
	setHook(t, func(pid int) { ran = append(ran, procExe(t, pid)) })

	t.Run("layout", func(t *testing.T) {
		checkLeaks(t)
		null := openRaw(t, "/dev/null", unix.O_RDONLY)
		_, out := pipe(t)
		spec := helperSpec(t, "report")
		spec.Files = []FD{{0, null.n}, {1, out.n}, {4, null.n}}
		rep, _, rp := runReport(t, spec)
		requireLayout(t, rep, map[int]int{0: null.n, 1: out.n, 4: null.n, reportTarget: rp.n})
		requireNoChildren(t)
	})
	t.Run("failed step", func(t *testing.T) {
		checkLeaks(t)
		spec := helperSpec(t, "exit")
		spec.Process.Cwd = "/nonexistent-launcher-test"
		_, err := Start(spec)
		var se *StartError
		if !errors.As(err, &se) || se.Op != "chdir" || !errors.Is(err, syscall.ENOENT) {
			t.Fatalf("Start: %v; want a chdir error with ENOENT", err)
		}
		requireNoChildren(t)
	})
	t.Run("cgroups", func(t *testing.T) {
		requireRoot(t)
		checkLeaks(t)
		dirs := []string{makeCgroup(t, "pids"), makeCgroup(t, "unified")}
		spec := helperSpec(t, "report")
		spec.Cgroups = dirs
		rep, _, _ := runReport(t, spec)
		for _, dir := range dirs {
			if !inCgroup(rep.Cgroup, dir) {
				t.Errorf("the app was not in %s at its start:\n%s", dir, rep.Cgroup)
			}
		}
		requireNoChildren(t)
	})
	if len(ran) == 0 {
		t.Fatal("no trampoline ran")
	}
	for _, exe := range ran {
		if exe != path {
			t.Errorf("the trampoline ran %s, want %s", exe, path)
		}
	}
}

// TestLayoutWithoutCloseRange: where the kernel has no close_range(2), the
// trampoline lists /proc/self/fd instead, and the app gets exactly its
// layout all the same, a leaked descriptor closed.
func TestLayoutWithoutCloseRange(t *testing.T) {
	trampolineOnly(t)
	checkLeaks(t)
	resetTrampoline(t)
	if err := SetTrampoline(copyTestBinary(t, filepath.Join(t.TempDir(), noCloseRangeDir), 0o755)); err != nil {
		t.Fatal(err)
	}
	null := openRaw(t, "/dev/null", unix.O_RDONLY)
	_, out := pipe(t)
	leaked, err := unix.Dup(null.n) // no O_CLOEXEC
	if err != nil {
		t.Fatal(err)
	}
	newRawFD(t, leaked, "leaked")
	spec := helperSpec(t, "report")
	spec.Files = []FD{{0, null.n}, {1, out.n}, {5, null.n}}
	rep, _, rp := runReport(t, spec)
	requireLayout(t, rep, map[int]int{0: null.n, 1: out.n, 5: null.n, reportTarget: rp.n})
	requireNoChildren(t)
}

// TestTrampolineRefused: SetTrampoline refuses a binary others could have
// changed, or that is no executable file, and Start goes on with the
// trampoline it had.
func TestTrampolineRefused(t *testing.T) {
	trampolineOnly(t)
	checkLeaks(t)
	resetTrampoline(t)
	if err := SetTrampoline(""); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		make func(t *testing.T, dir string) string
		want error
	}{
		{"writable by others", func(t *testing.T, dir string) string { return copyTestBinary(t, dir, 0o757) }, ErrUnsafeTrampoline},
		{"writable by its group", func(t *testing.T, dir string) string { return copyTestBinary(t, dir, 0o775) }, ErrUnsafeTrampoline},
		{"not executable", func(t *testing.T, dir string) string { return copyTestBinary(t, dir, 0o644) }, ErrUnsafeTrampoline},
		{"a directory", func(t *testing.T, dir string) string {
			path := filepath.Join(dir, TrampolineName)
			if err := os.MkdirAll(path, 0o755); err != nil {
				t.Fatal(err)
			}
			return path
		}, ErrUnsafeTrampoline},
		{"missing", func(t *testing.T, dir string) string { return filepath.Join(dir, TrampolineName) }, fs.ErrNotExist},
		{"owned by another user", func(t *testing.T, dir string) string {
			requireRoot(t)
			path := copyTestBinary(t, dir, 0o755)
			if err := os.Chown(path, 65534, 65534); err != nil {
				t.Fatal(err)
			}
			return path
		}, ErrUnsafeTrampoline},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := c.make(t, t.TempDir())
			err := SetTrampoline(path)
			if !errors.Is(err, c.want) || !strings.Contains(err.Error(), path) {
				t.Fatalf("SetTrampoline(%s): %v; want %v naming the path", path, err, c.want)
			}
			if got, why := TrampolineInUse(); got != selfExe || why != nil {
				t.Errorf("after the refusal TrampolineInUse = %s, %v; want %s, nil", got, why, selfExe)
			}
			var ran string
			setHook(t, func(pid int) { ran = procExe(t, pid) })
			wait(t, start(t, helperSpec(t, "exit")))
			if self, _ := os.Executable(); ran != self {
				t.Errorf("the trampoline ran %s, want the test binary %s", ran, self)
			}
		})
	}
}

// TestTrampolineBesideExecutable: without SetTrampoline, Start uses the
// binary named TrampolineName beside the running executable when it is
// safe, and otherwise falls back to the running binary, saying why.
func TestTrampolineBesideExecutable(t *testing.T) {
	trampolineOnly(t)
	checkLeaks(t)
	fakeExecutable := func(t *testing.T, dir string) {
		executable = func() (string, error) { return filepath.Join(dir, "migrated"), nil }
		t.Cleanup(func() { executable = os.Executable })
		resetTrampoline(t)
	}
	t.Run("found", func(t *testing.T) {
		dir := t.TempDir()
		path := copyTestBinary(t, dir, 0o755)
		fakeExecutable(t, dir)
		var ran string
		setHook(t, func(pid int) { ran = procExe(t, pid) })
		wait(t, start(t, helperSpec(t, "exit")))
		if ran != path {
			t.Errorf("the trampoline ran %s, want %s", ran, path)
		}
		if got, why := TrampolineInUse(); got != path || why != nil {
			t.Errorf("TrampolineInUse = %s, %v; want %s, nil", got, why, path)
		}
	})
	t.Run("none", func(t *testing.T) {
		fakeExecutable(t, t.TempDir())
		wait(t, start(t, helperSpec(t, "exit")))
		if got, why := TrampolineInUse(); got != selfExe || !errors.Is(why, fs.ErrNotExist) {
			t.Errorf("TrampolineInUse = %s, %v; want %s and a missing file", got, why, selfExe)
		}
	})
	t.Run("unsafe", func(t *testing.T) {
		dir := t.TempDir()
		copyTestBinary(t, dir, 0o777)
		fakeExecutable(t, dir)
		var ran string
		setHook(t, func(pid int) { ran = procExe(t, pid) })
		wait(t, start(t, helperSpec(t, "exit")))
		if self, _ := os.Executable(); ran != self {
			t.Errorf("the trampoline ran %s, want the test binary %s", ran, self)
		}
		if got, why := TrampolineInUse(); got != selfExe || !errors.Is(why, ErrUnsafeTrampoline) {
			t.Errorf("TrampolineInUse = %s, %v; want %s and ErrUnsafeTrampoline", got, why, selfExe)
		}
	})
}

// TestTrampolineOtherProtocol: a dedicated trampoline of another launcher
// version refuses the config; Start falls back to the running binary, for
// this start and the next, and the app starts all the same.
func TestTrampolineOtherProtocol(t *testing.T) {
	trampolineOnly(t)
	checkLeaks(t)
	resetTrampoline(t)
	path := copyTestBinary(t, filepath.Join(t.TempDir(), otherProtocolDir), 0o755)
	if err := SetTrampoline(path); err != nil {
		t.Fatalf("SetTrampoline: %v", err)
	}
	var ran []string
	setHook(t, func(pid int) { ran = append(ran, procExe(t, pid)) })
	rep, _, _ := runReport(t, helperSpec(t, "report"))
	if rep.Pid == 0 {
		t.Fatal("no report from the app")
	}
	self, _ := os.Executable()
	if len(ran) != 2 || ran[0] != path || ran[1] != self {
		t.Errorf("trampolines run: %q; want %s, then the test binary %s", ran, path, self)
	}
	got, why := TrampolineInUse()
	if got != selfExe || why == nil || !strings.Contains(why.Error(), path) {
		t.Errorf("TrampolineInUse = %s, %v; want %s and why, naming %s", got, why, selfExe, path)
	}
	requireNoChildren(t)
}
