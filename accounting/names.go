package accounting

import (
	"fmt"
	"slices"
	"strings"
)

// maxNameLen is the longest name accepted: a path component on Linux.
const maxNameLen = 255

// controlPrefixes are the prefixes (before the first '.') of the kernel's
// cgroup control files, and controlFiles the v1 ones without a prefix. A
// cgroup of that name cannot be made beside them.
var (
	controlPrefixes = []string{"cgroup", "blkio", "cpu", "cpuacct", "cpuset", "devices", "dmem", "freezer",
		"hugetlb", "io", "memory", "misc", "net_cls", "net_prio", "perf_event", "pids", "rdma"}
	controlFiles = []string{"tasks", "notify_on_release", "release_agent"}
)

// checkName accepts a group or leaf name: one path component of printable,
// non-space characters that is neither "." nor ".." nor the name of a
// cgroup control file. missingDirs catches control files not listed here.
func checkName(name string) error {
	if reason := nameFault(name); reason != "" {
		return fmt.Errorf("%w %q: %s", ErrBadName, name, reason)
	}
	return nil
}

func nameFault(name string) string {
	switch {
	case name == "":
		return "empty"
	case name == "." || name == "..":
		return "a relative path element"
	case len(name) > maxNameLen:
		return fmt.Sprintf("longer than %d bytes", maxNameLen)
	}
	for i := 0; i < len(name); i++ {
		switch c := name[i]; {
		case c == '/':
			return "contains '/'"
		case c <= ' ' || c == 0x7f:
			return "contains a space or control character"
		}
	}
	prefix, _, dotted := strings.Cut(name, ".")
	if (dotted && slices.Contains(controlPrefixes, prefix)) || slices.Contains(controlFiles, name) {
		return "the name of a cgroup control file"
	}
	return ""
}

// cleanParent turns the parent argument of NewManager into a relative
// cgroup path ("migrate", "apps/migrate"): "" means DefaultParent, one
// leading '/' is allowed, every element must pass checkName. "." (the
// base itself) is accepted only when nested, where the base is the
// supervisor's own, delegated cgroup; at a hierarchy's root it would make
// every system cgroup look like a group.
func cleanParent(parent string, nested bool) (string, error) {
	if parent == "" {
		return DefaultParent, nil
	}
	p := strings.TrimPrefix(parent, "/")
	if p == "." || p == "" {
		if nested {
			return ".", nil
		}
		return "", fmt.Errorf("%w: parent %q is the hierarchy's root; only Nested allows the base itself", ErrBadName, parent)
	}
	for _, elem := range strings.Split(p, "/") {
		if err := checkName(elem); err != nil {
			return "", fmt.Errorf("check parent %q: %w", parent, err)
		}
	}
	return p, nil
}
