//go:build linux

package accounting

import (
	"fmt"
	"os"
	"path"
	"strings"

	"github.com/containerd/cgroups/v3"
)

// placeParents sets base and parent of every hierarchy: the parent hangs
// under the hierarchy's root, or under the supervisor's own cgroup when
// nested.
func (m *Manager) placeParents(parent string) error {
	if !m.cfg.nested {
		for i := range m.v1 {
			m.v1[i].base, m.v1[i].parent = "/", path.Join("/", parent)
		}
		if m.unified != nil {
			m.unified.base, m.unified.parent = "/", path.Join("/", parent)
		}
		return nil
	}
	return m.placeNested(parent)
}

func (m *Manager) placeNested(parent string) error {
	own, ownUnified, err := cgroups.ParseCgroupFileUnified("/proc/self/cgroup")
	if err != nil {
		return fmt.Errorf("read own cgroups: %w", err)
	}
	mounts, err := readMountinfo()
	if err != nil {
		return err
	}
	for i := range m.v1 {
		s := &m.v1[i]
		s.base, s.parent, err = nestedPlace(own[s.key], mountRoot(mounts, s.mount), parent, m.cfg.leaf)
		if err != nil {
			return fmt.Errorf("nest parent in %s: %w", s.mount, err)
		}
	}
	if u := m.unified; u != nil {
		u.base, u.parent, err = nestedPlace(ownUnified, mountRoot(mounts, u.mount), parent, m.cfg.leaf)
		if err != nil {
			return fmt.Errorf("nest parent in %s: %w", u.mount, err)
		}
	}
	return nil
}

// nestedPlace turns the supervisor's own cgroup, as /proc/self/cgroup
// writes it, into the base and parent paths inside a hierarchy whose
// mount shows mountRoot of the filesystem. A supervisor already sitting in
// <base>/<parent>/<leaf> gets <base> back, so a re-executed supervisor
// does not nest a second parent inside its leaf.
func nestedPlace(own, mountRoot, parent, leaf string) (base, parentPath string, err error) {
	if own == "" || !path.IsAbs(own) {
		return "", "", fmt.Errorf("%w: no cgroup of our own in this hierarchy (got %q)", ErrUnsupported, own)
	}
	if mountRoot == "" {
		return "", "", fmt.Errorf("%w: hierarchy not found in mountinfo", ErrUnsupported)
	}
	rel, ok := within(path.Clean(mountRoot), path.Clean(own))
	if !ok {
		return "", "", fmt.Errorf("%w: own cgroup %q lies outside the mounted %q", ErrUnsupported, own, mountRoot)
	}
	base = strings.TrimSuffix(rel, path.Join("/", parent, leaf))
	if base == "" {
		base = "/"
	}
	return base, path.Join(base, parent), nil
}

// within returns p relative to dir as an absolute path ("/" for dir
// itself), or false when p is not dir or below it.
func within(dir, p string) (string, bool) {
	if dir == "/" {
		return p, true
	}
	if p == dir {
		return "/", true
	}
	if rest, ok := strings.CutPrefix(p, dir+"/"); ok {
		return "/" + rest, true
	}
	return "", false
}

func readMountinfo() ([]mountEntry, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("read mountinfo: %w", err)
	}
	defer f.Close()
	return parseMountinfo(f)
}

// mountRoot returns the filesystem root shown by the cgroup mount at point,
// or "" when there is none.
func mountRoot(mounts []mountEntry, point string) string {
	for _, e := range mounts {
		if e.point == point && (e.fstype == "cgroup" || e.fstype == "cgroup2") {
			return e.root
		}
	}
	return ""
}
