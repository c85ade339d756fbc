//go:build linux

package accounting

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// cgroupMounts returns every cgroup and cgroup2 mount under DefaultRoot,
// including the hierarchies accounting does not use.
func cgroupMounts(t testing.TB) []string {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	mounts, err := parseMountinfo(f)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range mounts {
		if (e.fstype == "cgroup" || e.fstype == "cgroup2") && strings.HasPrefix(e.point, DefaultRoot+"/") {
			out = append(out, e.point)
		}
	}
	return out
}

// assertNoCgroup checks that no hierarchy has a cgroup named parent.
func assertNoCgroup(t testing.TB, parent string) {
	for _, mnt := range cgroupMounts(t) {
		if _, err := os.Lstat(filepath.Join(mnt, parent)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("left behind: %s (%v)", filepath.Join(mnt, parent), err)
		}
	}
}

// forceRemove is the last resort of a failed cleanup: it kills whatever
// is in any cgroup named parent and removes them, so that a failing test
// leaves the host clean.
func forceRemove(t testing.TB, parent string) {
	for _, mnt := range cgroupMounts(t) {
		dir := filepath.Join(mnt, parent)
		writeCgroupFile(filepath.Join(dir, "freezer.state"), "THAWED")
		writeCgroupFile(filepath.Join(dir, "cgroup.kill"), "1")
		pids, _ := procsUnder([]string{dir})
		for _, p := range pids {
			unix.Kill(p, unix.SIGKILL)
		}
		if err := removeTree(dir, time.Now().Add(5*time.Second)); err != nil {
			t.Errorf("force remove %s: %v", dir, err)
		}
	}
	reapOrphans(t)
}
