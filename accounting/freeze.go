//go:build linux

package accounting

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/containerd/cgroups/v3/cgroup1"
)

// Freeze stops every process of the group (and of cgroups below it) and
// returns once the kernel reports the group frozen. It uses the v1 freezer
// where one is mounted (V1, Hybrid) and cgroup.freeze otherwise (V2, or a
// Hybrid host without a v1 freezer). If the group does not freeze before
// the Manager's timeout (a process stuck in the kernel), Freeze thaws it
// again and fails with ErrTimeout. A frozen process still receives
// signals, but acts on them only once thawed (except SIGKILL under v2).
func (g *Group) Freeze() error {
	err := g.setFrozen(true, g.m.deadline())
	if errors.Is(err, ErrTimeout) {
		err = errors.Join(err, g.setFrozen(false, g.m.deadline()))
	}
	if err != nil {
		return fmt.Errorf("freeze group %q: %w", g.name, err)
	}
	return nil
}

// Thaw lets the group's processes run again and returns once the kernel
// reports it thawed.
func (g *Group) Thaw() error {
	if err := g.setFrozen(false, g.m.deadline()); err != nil {
		return fmt.Errorf("thaw group %q: %w", g.name, err)
	}
	return nil
}

// Frozen tells whether the kernel reports the group frozen (v1:
// freezer.state FROZEN; v2: "frozen 1" in cgroup.events).
func (g *Group) Frozen() (bool, error) {
	v1dir, v2dir := g.freezerDirs()
	switch {
	case v1dir != "":
		state, err := v1FreezerState(v1dir)
		return state == "FROZEN", err
	case v2dir != "":
		v, err := readEvent(v2dir, "frozen")
		return v == 1, err
	}
	return false, fmt.Errorf("read freezer state of group %q: %w: no freezer", g.name, ErrUnsupported)
}

// freezerDirs returns the directory of the freezer to use: the v1 one
// when mounted, else the unified one; the other is "".
func (g *Group) freezerDirs() (v1dir, v2dir string) {
	if s := findV1(g.m.v1, cgroup1.Freezer); s != nil {
		return filepath.Join(s.mount, s.parent, g.name), ""
	}
	return "", g.UnifiedPath()
}

func (g *Group) setFrozen(frozen bool, deadline time.Time) error {
	v1dir, v2dir := g.freezerDirs()
	switch {
	case v1dir != "":
		return setV1Freezer(v1dir, frozen, deadline)
	case v2dir != "":
		return setV2Freezer(v2dir, frozen, deadline)
	}
	return fmt.Errorf("%w: no freezer", ErrUnsupported)
}

// setV1Freezer writes the state and waits for freezer.state to show it.
// The v1 freezer sends no notification, so this polls with backoff, and
// writes again each round as runc does: a group can linger in FREEZING
// while new tasks join.
func setV1Freezer(dir string, frozen bool, deadline time.Time) error {
	want := "THAWED"
	if frozen {
		want = "FROZEN"
	}
	file := filepath.Join(dir, "freezer.state")
	for backoff := time.Millisecond; ; backoff = min(2*backoff, 20*time.Millisecond) {
		if err := writeCgroupFile(file, want); err != nil {
			return notFound(err)
		}
		state, err := v1FreezerState(dir)
		if err != nil || state == want {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w: %s is %s, want %s", ErrTimeout, file, state, want)
		}
		time.Sleep(backoff)
	}
}

func v1FreezerState(dir string) (string, error) {
	b, err := os.ReadFile(filepath.Join(dir, "freezer.state"))
	if err != nil {
		return "", notFound(err)
	}
	return strings.TrimSpace(string(b)), nil
}

func setV2Freezer(dir string, frozen bool, deadline time.Time) error {
	val, want := "0", uint64(0)
	if frozen {
		val, want = "1", 1
	}
	if err := writeCgroupFile(filepath.Join(dir, "cgroup.freeze"), val); err != nil {
		return notFound(err)
	}
	return waitEvent(dir, "frozen", want, deadline)
}

func (m *Manager) deadline() time.Time { return time.Now().Add(m.cfg.timeout) }
