package accounting

import (
	"fmt"
	"path/filepath"
	"time"
)

const (
	// DefaultRoot is where the kernel's cgroup filesystems are mounted.
	DefaultRoot = "/sys/fs/cgroup"
	// DefaultParent is the cgroup, under each hierarchy's root, that holds
	// one cgroup per app when NewManager is given "".
	DefaultParent = "migrate"
	// DefaultLeaf is the cgroup under the parent that EnterLeaf moves the
	// supervisor into. Its name is reserved: no group may take it.
	DefaultLeaf = "supervisor"
	// DefaultTimeout bounds every wait on the kernel: freezing, thawing,
	// emptying a group in Kill, removing a directory in Delete.
	DefaultTimeout = 10 * time.Second
)

// Option configures a Manager.
type Option func(*config)

type config struct {
	root    string
	mode    Mode
	nested  bool
	leaf    string
	timeout time.Duration
	// noCgroupKill makes Kill ignore cgroup.kill and use the
	// freeze-signal-thaw loop kernels before 5.14 need; tests set it.
	noCgroupKill bool
}

func defaultConfig() config {
	return config{root: DefaultRoot, leaf: DefaultLeaf, timeout: DefaultTimeout}
}

// WithRoot uses dir as the cgroup root instead of DefaultRoot; the mode is
// detected there. A cgroup2 mount (for example the unified hierarchy of a
// hybrid host, /sys/fs/cgroup/unified) makes a V2 Manager.
func WithRoot(dir string) Option {
	return func(c *config) { c.root = dir }
}

// WithMode insists on a mode. NewManager fails with ErrUnsupported unless
// the root has it; the one narrowing allowed is V1 on a Hybrid host, which
// leaves the unified hierarchy alone.
func WithMode(m Mode) Option {
	return func(c *config) { c.mode = m }
}

// Nested places the parent under the supervisor's own cgroup in each
// hierarchy (read from /proc/self/cgroup when NewManager runs) instead of
// under the hierarchy's root: the layout for a supervisor given a delegated
// cgroup (systemd's Delegate=yes). A supervisor already inside
// <own>/<parent>/<leaf> (EnterLeaf ran, then it re-executed itself)
// resolves to the same parent, not one nested inside its leaf.
func Nested() Option {
	return func(c *config) { c.nested = true }
}

// WithLeaf names the cgroup EnterLeaf moves the supervisor into; the
// default is DefaultLeaf.
func WithLeaf(name string) Option {
	return func(c *config) { c.leaf = name }
}

// WithTimeout bounds every wait on the kernel; the default is
// DefaultTimeout.
func WithTimeout(d time.Duration) Option {
	return func(c *config) { c.timeout = d }
}

func (c *config) check() error {
	if !filepath.IsAbs(c.root) {
		return fmt.Errorf("%w: root %q is not absolute", ErrBadOption, c.root)
	}
	if c.mode != 0 && c.mode != V1 && c.mode != Hybrid && c.mode != V2 {
		return fmt.Errorf("%w: unknown mode %v", ErrBadOption, c.mode)
	}
	if c.timeout <= 0 {
		return fmt.Errorf("%w: timeout %v is not positive", ErrBadOption, c.timeout)
	}
	if err := checkName(c.leaf); err != nil {
		return fmt.Errorf("check leaf: %w: %w", ErrBadOption, err)
	}
	return nil
}
