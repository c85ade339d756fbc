//go:build linux

package accounting

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
)

// Manager places one cgroup per app under a parent cgroup, in every
// hierarchy the host has (see the package documentation). A supervisor
// makes one. Its methods and its Groups' are safe for concurrent use; the
// kernel files are the only state.
type Manager struct {
	cfg     config
	mode    Mode
	parent  string    // cleaned parent argument: "migrate", "a/b" or "."
	v1      []v1Sub   // V1 and Hybrid
	unified *unifiedH // V2 and Hybrid
}

// NewManager detects the host's cgroup mode and hierarchies and returns a
// Manager whose groups live under parent ("" means DefaultParent), a
// relative cgroup path placed at each hierarchy's root (or, with Nested,
// under the supervisor's own cgroup). It creates nothing: the parent
// appears with the first Create or EnterLeaf. It fails with ErrUnavailable
// when the root holds no usable hierarchy.
func NewManager(parent string, opts ...Option) (*Manager, error) {
	cfg := defaultConfig()
	for _, o := range opts {
		o(&cfg)
	}
	m, err := newManager(parent, cfg)
	if err != nil {
		return nil, fmt.Errorf("new cgroup manager: %w", err)
	}
	return m, nil
}

func newManager(parent string, cfg config) (*Manager, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	p, err := cleanParent(parent, cfg.nested)
	if err != nil {
		return nil, err
	}
	detected, err := detectMode(cfg.root)
	if err != nil {
		return nil, err
	}
	m := &Manager{cfg: cfg, parent: p}
	if m.mode, err = resolveMode(detected, cfg.mode); err != nil {
		return nil, err
	}
	if m.mode != V2 {
		if m.v1, err = discoverV1(cfg.root); err != nil {
			return nil, err
		}
	}
	if m.mode != V1 {
		if m.unified, err = discoverUnified(cfg.root, m.mode); err != nil {
			return nil, err
		}
	}
	return m, m.placeParents(p)
}

// Mode returns the mode the Manager works in.
func (m *Manager) Mode() Mode { return m.mode }

// Groups returns the names of the groups under the parent, in any
// hierarchy (a group half-removed by a crash is listed, so that it can be
// completed by Create and then deleted), sorted. The leaf is not a group.
// With Nested and parent ".", every cgroup in the delegated base counts.
func (m *Manager) Groups() ([]string, error) {
	set := make(map[string]bool)
	for _, dir := range m.dirsOf(".") {
		ents, err := os.ReadDir(dir)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("list groups: %w", err)
		}
		for _, e := range ents {
			if e.IsDir() && e.Name() != m.cfg.leaf {
				set[e.Name()] = true
			}
		}
	}
	names := make([]string, 0, len(set))
	for n := range set {
		names = append(names, n)
	}
	sort.Strings(names)
	return names, nil
}

// Delete removes the leaf and the parent cgroup (not the base, when the
// parent is the base itself) from every hierarchy. It fails with
// ErrNotEmpty, removing nothing, while a group remains or a process sits
// in the leaf. Directories already gone are fine.
func (m *Manager) Delete() error {
	if err := m.deleteParent(); err != nil {
		return fmt.Errorf("delete parent cgroup %q: %w", m.parent, err)
	}
	return nil
}

func (m *Manager) deleteParent() error {
	names, err := m.Groups()
	if err != nil {
		return err
	}
	if len(names) > 0 {
		return fmt.Errorf("%w: groups %v remain", ErrNotEmpty, names)
	}
	leafDirs := m.dirsOf(m.cfg.leaf)
	if pids, err := procsUnder(leafDirs); err != nil {
		return err
	} else if len(pids) > 0 {
		return &NotEmptyError{Group: m.cfg.leaf, Pids: pids}
	}
	dirs := leafDirs
	if m.parent != "." {
		dirs = append(dirs, m.dirsOf(".")...)
	}
	for _, d := range dirs {
		if err := removeTree(d, m.deadline()); err != nil {
			return err
		}
	}
	return nil
}

// dirsOf returns the directory of the cgroup <parent>/<name> in every
// hierarchy: one per distinct v1 mount, in discovery order, then the
// unified one. The name "." gives the parent's directories.
func (m *Manager) dirsOf(name string) []string {
	var dirs []string
	for _, s := range v1Mounts(m.v1) {
		dirs = append(dirs, filepath.Join(s.mount, s.parent, name))
	}
	if u := m.unified; u != nil {
		dirs = append(dirs, filepath.Join(u.mount, u.parent, name))
	}
	return dirs
}
