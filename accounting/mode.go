//go:build linux

package accounting

import (
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// Mode is how the host lays out its cgroup hierarchies.
type Mode int

const (
	// V1 (legacy): one cgroup v1 hierarchy per controller (or per group of
	// co-mounted controllers), usually at /sys/fs/cgroup/<controller>, and
	// no cgroup2 mount.
	V1 Mode = iota + 1
	// Hybrid: the v1 controller hierarchies plus a cgroup2 hierarchy at
	// <root>/unified, which tracks processes (and offers cgroup.kill and
	// cgroup.events) but usually holds no controller.
	Hybrid
	// V2 (unified): a single cgroup2 hierarchy at the root.
	V2
)

// String returns "v1", "hybrid" or "v2".
func (m Mode) String() string {
	switch m {
	case V1:
		return "v1"
	case Hybrid:
		return "hybrid"
	case V2:
		return "v2"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// detectMode tells the mode of the cgroup filesystem rooted at root, the
// way containerd's cgroups.Mode does for /sys/fs/cgroup: a cgroup2 root is
// V2; otherwise a cgroup2 mount at root/unified makes it Hybrid, and its
// absence V1. Whether V1 controllers exist is discoverV1's question.
func detectMode(root string) (Mode, error) {
	magic, err := fsMagic(root)
	if err != nil {
		return 0, fmt.Errorf("detect cgroup mode at %s: %w: %w", root, ErrUnavailable, err)
	}
	if magic == unix.CGROUP2_SUPER_MAGIC {
		return V2, nil
	}
	if m, err := fsMagic(filepath.Join(root, "unified")); err == nil && m == unix.CGROUP2_SUPER_MAGIC {
		return Hybrid, nil
	}
	return V1, nil
}

// resolveMode applies a forced mode to the detected one. Forcing can only
// narrow what the host has: V1 on a Hybrid host ignores the unified
// hierarchy; anything else must match.
func resolveMode(detected, forced Mode) (Mode, error) {
	if forced == 0 || forced == detected {
		return detected, nil
	}
	if forced == V1 && detected == Hybrid {
		return V1, nil
	}
	return 0, fmt.Errorf("force mode %v on a %v host: %w", forced, detected, ErrUnsupported)
}

// fsMagic returns the filesystem type of the mount holding path.
func fsMagic(path string) (int64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return 0, &os.PathError{Op: "statfs", Path: path, Err: err}
	}
	return int64(st.Type), nil
}
