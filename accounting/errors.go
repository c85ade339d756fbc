package accounting

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every error accounting returns wraps one of them (or a
// kernel error from a cgroup file) with a verb phrase saying what failed,
// so callers test with errors.Is.
var (
	// ErrUnavailable is returned by NewManager when the root holds no cgroup
	// hierarchy accounting can use (no cgroup2 mount, no v1 controller).
	ErrUnavailable = errors.New("no usable cgroup hierarchy")

	// ErrUnsupported is returned when a request needs something this host
	// or this package does not provide: a resource whose controller is not
	// available to the group, a LinuxResources field accounting does not
	// apply, a mode forced on a host that lacks it, a freezer where none is
	// mounted.
	ErrUnsupported = errors.New("not supported")

	// ErrBadName is returned for a group, parent or leaf name that is not a
	// single safe path component (empty, ".", "..", a '/', a control
	// character, too long, the reserved leaf name, or the name of a cgroup
	// control file).
	ErrBadName = errors.New("invalid name")

	// ErrBadOption is returned by NewManager for an option it cannot use: a
	// relative root, an unknown mode, a timeout that is not positive, a leaf
	// that is not a valid name.
	ErrBadOption = errors.New("invalid option")

	// ErrBadResources is returned when a LinuxResources value is out of the
	// range the kernel accepts or ambiguous (for example a memory limit of 0
	// or a cpu period below 1ms). Nothing has been written.
	ErrBadResources = errors.New("invalid resources")

	// ErrBadPid is returned by Add for a pid that is not positive.
	ErrBadPid = errors.New("invalid pid")

	// ErrExists is returned by Create when the group already exists in
	// every hierarchy.
	ErrExists = errors.New("group already exists")

	// ErrNotFound is returned when the group's directory is missing from a
	// hierarchy: Load of an unknown group, any operation on a deleted one.
	ErrNotFound = errors.New("group not found")

	// ErrNotEmpty is returned by Delete when processes remain in the group,
	// by Kill when it could not empty the group before the deadline (both as
	// a *NotEmptyError), and by Manager.Delete while groups remain.
	ErrNotEmpty = errors.New("cgroup not empty")

	// ErrParentBusy is returned under cgroup v2 when a controller cannot be
	// enabled for the groups because a process sits in the parent (or in an
	// ancestor up to the base): the kernel's no-internal-process rule. The
	// supervisor calls EnterLeaf first.
	ErrParentBusy = errors.New("parent cgroup has processes")

	// ErrTimeout is returned when the kernel did not reach the asked state
	// (frozen, thawed, empty, removable) before the Manager's timeout.
	ErrTimeout = errors.New("timed out")
)

// NotEmptyError is returned by Group.Delete and Group.Kill when processes
// remain in the group. It unwraps to ErrNotEmpty.
type NotEmptyError struct {
	Group string // the group's name
	Pids  []int  // the processes that remained, ascending
}

func (e *NotEmptyError) Error() string {
	return fmt.Sprintf("%v: group %q holds %d processes %v", ErrNotEmpty, e.Group, len(e.Pids), e.Pids)
}

// Unwrap returns ErrNotEmpty.
func (e *NotEmptyError) Unwrap() error { return ErrNotEmpty }
