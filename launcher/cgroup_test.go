//go:build linux

package launcher

import (
	"errors"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// setHook sets testHookStarted for the test.
func setHook(t *testing.T, hook func(pid int)) {
	testHookStarted = hook
	t.Cleanup(func() { testHookStarted = nil })
}

func procCgroup(pid int) string {
	b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cgroup")
	return string(b)
}

// kernelAtLeast reports whether the running kernel is at least major.minor.
func kernelAtLeast(t *testing.T, major, minor int) bool {
	t.Helper()
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		t.Fatal(err)
	}
	parts := strings.SplitN(unix.ByteSliceToString(u.Release[:]), ".", 3)
	maj, _ := strconv.Atoi(parts[0])
	min, _ := strconv.Atoi(parts[1])
	return maj > major || maj == major && min >= minor
}

// TestCgroupsBeforeFirstInstruction: the app is in every given cgroup, two
// v1 hierarchies and the v2 one, when its first code runs; and the
// trampoline was created inside the v2 cgroup by clone3 before the parent
// wrote any cgroup.procs.
func TestCgroupsBeforeFirstInstruction(t *testing.T) {
	requireRoot(t)
	checkLeaks(t)
	dirs := []string{makeCgroup(t, "pids"), makeCgroup(t, "cpu"), makeCgroup(t, "unified")}
	var atCreation string
	setHook(t, func(pid int) { atCreation = procCgroup(pid) })

	spec := helperSpec(t, "report")
	spec.Cgroups = dirs
	rep, p, _ := runReport(t, spec)
	for _, dir := range dirs {
		if !inCgroup(rep.Cgroup, dir) {
			t.Errorf("the app was not in %s at its start:\n%s", dir, rep.Cgroup)
		}
	}
	if !p.ClonedIntoCgroup {
		if kernelAtLeast(t, 5, 7) {
			t.Fatalf("clone3(CLONE_INTO_CGROUP) was not used on a kernel that has it")
		}
		t.Skip("kernel older than 5.7: no CLONE_INTO_CGROUP")
	}
	if p.direct {
		// No trampoline: the direct child joins the v1 cgroups first of
		// all, and runs no code of its own.
		requireNoChildren(t)
		return
	}
	if !inCgroup(atCreation, dirs[2]) || inCgroup(atCreation, dirs[0]) {
		t.Errorf("before any cgroup.procs write the trampoline was in\n%s\nwant the v2 cgroup only", atCreation)
	}
	requireNoChildren(t)
}

// TestCgroupCloneRefused: when clone3 is refused, Start retries with a plain
// fork and moves the trampoline into the v2 cgroup through cgroup.procs; the
// app still starts inside it.
func TestCgroupCloneRefused(t *testing.T) {
	trampolineOnly(t)
	requireRoot(t)
	checkLeaks(t)
	dirs := []string{makeCgroup(t, "pids"), makeCgroup(t, "unified")}
	refused := 0
	startProcess = func(argv0 string, argv []string, attr *syscall.ProcAttr) (int, error) {
		if attr.Sys.UseCgroupFD {
			refused++
			return 0, syscall.ENOSYS
		}
		return forkExec(argv0, argv, attr)
	}
	t.Cleanup(func() { startProcess = forkExec })
	var atCreation string
	setHook(t, func(pid int) { atCreation = procCgroup(pid) })

	spec := helperSpec(t, "report")
	spec.Cgroups = dirs
	rep, p, _ := runReport(t, spec)
	if refused != 1 || p.ClonedIntoCgroup {
		t.Errorf("clone3 attempts %d, ClonedIntoCgroup %v; want 1, false", refused, p.ClonedIntoCgroup)
	}
	if inCgroup(atCreation, dirs[1]) {
		t.Errorf("the trampoline was created in the v2 cgroup without clone3?\n%s", atCreation)
	}
	for _, dir := range dirs {
		if !inCgroup(rep.Cgroup, dir) {
			t.Errorf("the app was not in %s at its start:\n%s", dir, rep.Cgroup)
		}
	}
	requireNoChildren(t)
}

// TestCgroupJoinFails: a cgroup the kernel refuses (a v1 cpuset without
// cpus: ENOSPC) fails Start with the directory and the errno, and leaves no
// child and no descriptor behind.
func TestCgroupJoinFails(t *testing.T) {
	requireRoot(t)
	checkLeaks(t)
	cpuset := makeCgroup(t, "cpuset")
	spec := helperSpec(t, "exit")
	spec.Cgroups = []string{makeCgroup(t, "unified"), cpuset}
	p, err := Start(spec)
	var se *StartError
	if !errors.As(err, &se) || se.Op != "join cgroup" || se.Path != cpuset || !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Start: %v, %v; want a join cgroup error for %s with ENOSPC", p, err, cpuset)
	}
	requireNoChildren(t)
}

// TestTightPidsLimit: the trampoline is a Go program, and it runs inside the
// app's cgroups with a few threads; with pids.max at the documented floor of
// 8 it still starts the app, every time.
func TestTightPidsLimit(t *testing.T) {
	requireRoot(t)
	checkLeaks(t)
	dir := makeCgroup(t, "pids")
	if err := os.WriteFile(dir+"/pids.max", []byte("8"), 0); err != nil {
		t.Fatal(err)
	}
	spec := programSpec(t, "true")
	spec.Cgroups = []string{dir}
	for range 10 {
		wait(t, start(t, spec))
	}
	requireNoChildren(t)
}
