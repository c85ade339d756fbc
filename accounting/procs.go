//go:build linux

package accounting

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// procsUnder returns every process in the cgroups at dirs and in the
// cgroups below them, ascending and without repeats. A directory that does
// not exist (or vanishes while we walk) holds nothing.
func procsUnder(dirs []string) ([]int, error) {
	set := make(map[int]bool)
	for _, d := range dirs {
		tree, err := cgroupTree(d)
		if err != nil {
			return nil, err
		}
		for _, dir := range tree {
			if err := readProcsInto(filepath.Join(dir, "cgroup.procs"), set); err != nil {
				return nil, err
			}
		}
	}
	pids := make([]int, 0, len(set))
	for p := range set {
		pids = append(pids, p)
	}
	sort.Ints(pids)
	return pids, nil
}

func readProcsInto(file string, set map[int]bool) error {
	b, err := os.ReadFile(file)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read processes: %w", err)
	}
	pids, err := parseProcs(b)
	if err != nil {
		return fmt.Errorf("read processes of %s: %w", file, err)
	}
	for _, p := range pids {
		set[p] = true
	}
	return nil
}

// parseProcs decodes a cgroup.procs file: one positive decimal pid a line.
func parseProcs(b []byte) ([]int, error) {
	var pids []int
	for _, line := range bytes.Split(b, []byte{'\n'}) {
		if len(line) == 0 {
			continue
		}
		p, err := strconv.ParseInt(string(line), 10, 32)
		if err != nil || p <= 0 {
			return nil, fmt.Errorf("bad pid %q", line)
		}
		pids = append(pids, int(p))
	}
	return pids, nil
}

// cgroupTree lists dir and every cgroup below it, children before their
// parents (the order rmdir needs). A missing dir gives nothing.
func cgroupTree(dir string) ([]string, error) {
	var pre []string
	err := filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		if e.IsDir() {
			pre = append(pre, p)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("walk cgroup %s: %w", dir, err)
	}
	for i, j := 0, len(pre)-1; i < j; i, j = i+1, j-1 {
		pre[i], pre[j] = pre[j], pre[i]
	}
	return pre, nil
}

// removeTree removes the cgroup at dir and every cgroup below it. rmdir
// fails with EBUSY while a cgroup is populated, and for a moment after its
// last process exits under v1; the kernel sends no event for that, so
// removeTree retries with backoff until the deadline.
func removeTree(dir string, deadline time.Time) error {
	tree, err := cgroupTree(dir)
	if err != nil {
		return err
	}
	for _, d := range tree {
		if err := rmdirRetry(d, deadline); err != nil {
			return err
		}
	}
	return nil
}

func rmdirRetry(dir string, deadline time.Time) error {
	backoff := time.Millisecond
	for {
		err := unix.Rmdir(dir)
		switch {
		case err == nil || errors.Is(err, unix.ENOENT):
			return nil
		case !errors.Is(err, unix.EBUSY):
			return &os.PathError{Op: "rmdir", Path: dir, Err: err}
		case time.Now().After(deadline):
			return fmt.Errorf("remove cgroup %s: %w: %w", dir, ErrTimeout, err)
		}
		time.Sleep(backoff)
		backoff = min(2*backoff, 50*time.Millisecond)
	}
}
