package tests

import (
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// cgroupDirs lists the directories of cgroup parent in every mounted
// hierarchy (v1 controllers, the unified one, the v2 root).
func cgroupDirs(parent string) []string {
	var dirs []string
	for _, pattern := range []string{"/sys/fs/cgroup/" + parent, "/sys/fs/cgroup/*/" + parent} {
		m, _ := filepath.Glob(pattern)
		dirs = append(dirs, m...)
	}
	return dirs
}

// killCgroupTree SIGKILLs every process in the cgroups under parent, waits
// for them to leave, and removes the cgroups deepest first. It returns the
// directories that existed.
func killCgroupTree(parent string) []string {
	top := cgroupDirs(parent)
	var all []string
	for _, dir := range top {
		_ = filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
			if err == nil && e.IsDir() {
				all = append(all, p)
			}
			return nil
		})
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		live := 0
		for _, dir := range all {
			for _, pid := range cgroupProcs(dir) {
				live++
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		if live == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond) // processes leave their cgroup when reaped; no event for it here
	}
	slices.SortFunc(all, func(a, b string) int { return len(b) - len(a) })
	for _, dir := range all {
		_ = os.Remove(dir)
	}
	return top
}

func cgroupProcs(dir string) []int {
	b, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	if err != nil {
		return nil
	}
	var pids []int
	for _, f := range strings.Fields(string(b)) {
		if pid, err := strconv.Atoi(f); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids
}
