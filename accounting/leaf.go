//go:build linux

package accounting

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// EnterLeaf prepares cgroup v2 delegation: it moves the calling process
// (all its threads) into <parent>/<leaf>, then enables the controllers
// accounting drives (cpu, cpuset, memory, pids; those the kernel offers)
// from the base down to the parent, so that every group gets them. Under
// v2 a cgroup that holds processes cannot enable controllers for its
// children, so a supervisor that lives in the parent or in the base (a
// delegated cgroup, see Nested) must call this before Create. It is
// idempotent. On V1 and Hybrid it does nothing: v1 has no such rule and
// accounting enables no controller in a hybrid unified hierarchy.
func (m *Manager) EnterLeaf() error {
	if m.mode != V2 {
		return nil
	}
	if err := m.enterLeaf(); err != nil {
		return fmt.Errorf("enter leaf cgroup %q: %w", m.cfg.leaf, err)
	}
	return nil
}

func (m *Manager) enterLeaf() error {
	leaf := filepath.Join(m.unified.mount, m.unified.parent, m.cfg.leaf)
	if err := os.MkdirAll(leaf, 0o755); err != nil {
		return err
	}
	if err := writeCgroupFile(filepath.Join(leaf, "cgroup.procs"), strconv.Itoa(os.Getpid())); err != nil {
		return err
	}
	return kernelSubtree.enable(m.unified.chain(), managedControllers)
}

// prepareParent makes the parent in the unified hierarchy and, on V2,
// enables the managed controllers down to it. containerd makes the v1
// parents (and fills their cpuset) when it makes a group.
func (m *Manager) prepareParent() error {
	u := m.unified
	if u == nil {
		return nil
	}
	if err := os.MkdirAll(filepath.Join(u.mount, u.parent), 0o755); err != nil {
		return fmt.Errorf("make parent cgroup: %w", err)
	}
	if m.mode != V2 {
		return nil
	}
	return kernelSubtree.enable(u.chain(), managedControllers)
}

// chain lists the directories from the base down to the parent.
func (u *unifiedH) chain() []string {
	dir := filepath.Join(u.mount, u.base)
	dirs := []string{dir}
	rel := strings.TrimPrefix(u.parent, u.base)
	for _, elem := range strings.Split(strings.Trim(rel, "/"), "/") {
		if elem != "" {
			dir = filepath.Join(dir, elem)
			dirs = append(dirs, dir)
		}
	}
	return dirs
}

// subtree is the seam between controller delegation and the kernel files
// it reads and writes; tests replace it with a fake hierarchy.
type subtree struct {
	read  func(file string) ([]byte, error)
	write func(file, data string) error
}

var kernelSubtree = subtree{read: os.ReadFile, write: writeCgroupFile}

// enable turns on, in each of dirs from the top down, those of want that
// the directory's cgroup.controllers offers and its
// cgroup.subtree_control lacks. A controller no directory offers is
// skipped: the groups will not have it, and a request that needs it fails
// with ErrUnsupported.
func (s subtree) enable(dirs []string, want []string) error {
	for _, dir := range dirs {
		avail, err := s.fields(filepath.Join(dir, "cgroup.controllers"))
		if err != nil {
			return err
		}
		on, err := s.fields(filepath.Join(dir, "cgroup.subtree_control"))
		if err != nil {
			return err
		}
		for _, c := range want {
			if avail[c] && !on[c] {
				if err := s.turnOn(dir, c); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func (s subtree) turnOn(dir, controller string) error {
	err := s.write(filepath.Join(dir, "cgroup.subtree_control"), "+"+controller)
	if errors.Is(err, unix.EBUSY) {
		return fmt.Errorf("%w: enable %s for the children of %s (processes there; call EnterLeaf): %w", ErrParentBusy, controller, dir, err)
	}
	if err != nil {
		return fmt.Errorf("enable %s for the children of %s: %w", controller, dir, err)
	}
	return nil
}

func (s subtree) fields(file string) (map[string]bool, error) {
	b, err := s.read(file)
	if err != nil {
		return nil, fmt.Errorf("read controllers: %w", err)
	}
	set := make(map[string]bool)
	for _, f := range strings.Fields(string(b)) {
		set[f] = true
	}
	return set, nil
}
