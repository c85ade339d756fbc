//go:build linux

package accounting

import "fmt"

// Delete removes the group, and any cgroup below it, from every
// hierarchy. While processes remain it fails with a *NotEmptyError
// (ErrNotEmpty) and removes nothing; Destroy kills them first. A group
// that is gone everywhere fails with ErrNotFound; one that is gone from
// some hierarchies is removed from the others.
func (g *Group) Delete() error {
	if err := g.delete(); err != nil {
		return fmt.Errorf("delete group %q: %w", g.name, err)
	}
	return nil
}

func (g *Group) delete() error {
	missing, err := missingDirs(g.dirs)
	if err != nil {
		return err
	}
	if len(missing) == len(g.dirs) {
		return ErrNotFound
	}
	pids, err := g.Procs()
	if err != nil {
		return err
	}
	if len(pids) > 0 {
		return &NotEmptyError{Group: g.name, Pids: pids}
	}
	deadline := g.m.deadline()
	for _, d := range g.dirs {
		if err := removeTree(d, deadline); err != nil {
			return err
		}
	}
	return nil
}

// Destroy kills every process of the group (see Kill), then deletes it.
func (g *Group) Destroy() error {
	if err := g.Kill(); err != nil {
		return err
	}
	return g.Delete()
}
