//go:build linux

package launcher

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// cgroupDir is a checked directory of Spec.Cgroups.
type cgroupDir struct {
	path string
	v2   bool // in the unified (cgroup2) hierarchy
}

// checkCgroups checks that every directory is an absolute path to a
// directory of a cgroup file system, and that no two are in one hierarchy:
// every mounted hierarchy has a superblock of its own, so a shared st_dev
// means a shared hierarchy.
func checkCgroups(dirs []string) ([]cgroupDir, error) {
	out := make([]cgroupDir, 0, len(dirs))
	byDev := make(map[uint64]string, len(dirs))
	for _, dir := range dirs {
		cg, dev, err := checkCgroup(dir)
		if err != nil {
			return nil, err
		}
		if other, ok := byDev[dev]; ok {
			return nil, invalid("cgroup directories %s and %s are in the same hierarchy", other, dir)
		}
		byDev[dev] = dir
		out = append(out, cg)
	}
	return out, nil
}

func checkCgroup(dir string) (cgroupDir, uint64, error) {
	if strings.IndexByte(dir, 0) >= 0 || !filepath.IsAbs(dir) {
		return cgroupDir{}, 0, invalid("cgroup directory %q is not an absolute path", dir)
	}
	var fs unix.Statfs_t
	if err := unix.Statfs(dir, &fs); err != nil {
		return cgroupDir{}, 0, invalid("cgroup directory %s: %w", dir, err)
	}
	if fs.Type != unix.CGROUP_SUPER_MAGIC && fs.Type != unix.CGROUP2_SUPER_MAGIC {
		return cgroupDir{}, 0, invalid("%s is not on a cgroup file system", dir)
	}
	var st unix.Stat_t
	if err := unix.Stat(dir, &st); err != nil {
		return cgroupDir{}, 0, invalid("cgroup directory %s: %w", dir, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return cgroupDir{}, 0, invalid("cgroup directory %s is not a directory", dir)
	}
	return cgroupDir{path: dir, v2: fs.Type == unix.CGROUP2_SUPER_MAGIC}, uint64(st.Dev), nil
}

// v2Dir returns the cgroup v2 directory among cgs, or "".
func v2Dir(cgs []cgroupDir) string {
	for _, cg := range cgs {
		if cg.v2 {
			return cg.path
		}
	}
	return ""
}

// joinCgroup moves process pid, all its threads, into the cgroup at dir.
func joinCgroup(dir string, pid int) error {
	f, err := os.OpenFile(filepath.Join(dir, "cgroup.procs"), os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString(strconv.Itoa(pid))
	if closeErr := f.Close(); err == nil {
		err = closeErr
	}
	return err
}
