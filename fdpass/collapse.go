//go:build linux

package fdpass

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// Slot is one descriptor of a continuation as the supervisor received it.
type Slot struct {
	// Number is the descriptor number the app had. The descriptor that
	// restores this slot at resume is dup'ed onto this number.
	Number int `json:"number"`
	// FD is the supervisor's received copy. The caller owns it; Collapse
	// neither closes nor keeps it.
	FD int `json:"fd"`
	// Desc is Describe(FD).
	Desc Description `json:"desc"`
}

// Held is one descriptor a Plan keeps: one per resource.
type Held struct {
	// Slot is the index in Collapse's input of the slot whose FD is held.
	Slot int `json:"slot"`
	// FD is that slot's received descriptor. The caller keeps it open while
	// the continuation is suspended and closes it when the continuation is
	// resumed or dropped.
	FD int `json:"fd"`
	// Numbers are the app's descriptor numbers that FD restores (by dup at
	// resume), in input order.
	Numbers []int `json:"numbers"`
}

// Plan is a resource continuation: which received descriptors to hold and
// which held descriptor restores each original slot.
type Plan struct {
	// Held has one entry per resource, in the order of its first slot.
	Held []Held `json:"held"`
	// Restore[i] is the index in Held of the descriptor that restores input
	// slot i.
	Restore []int `json:"restore"`
	// Redundant are the received descriptors no Held entry uses, in input
	// order. The caller closes them (CloseRedundant does).
	Redundant []int `json:"redundant"`
}

// Before is the number of descriptors the continuation carried.
func (p Plan) Before() int { return len(p.Restore) }

// After is the number of descriptors the plan holds.
func (p Plan) After() int { return len(p.Held) }

// CloseRedundant closes every descriptor in p.Redundant and reports any
// close errors joined. Call it once: afterwards those numbers may belong to
// other files.
func (p Plan) CloseRedundant() error {
	var errs []error
	for _, fd := range p.Redundant {
		if err := unix.Close(fd); err != nil {
			errs = append(errs, fdError("close redundant", fd, "close", err))
		}
	}
	return errors.Join(errs...)
}

// Collapse plans which of a continuation's descriptors to hold. Descriptors
// to one resource collapse to one held descriptor, and every resource keeps
// one, network or not. What counts as one resource:
//
//   - one open file description (dups, or copies received from one
//     descriptor), whatever its kind: SameFile decides;
//   - one terminal (a pty slave or other tty) or one stateless character
//     device (/dev/null, /dev/zero, /dev/full, /dev/random, /dev/urandom)
//     opened separately: the same st_rdev with the same status flags. This
//     is stdin, stdout and stderr on one tty. Different flags stay apart:
//     one open file description cannot restore both O_RDONLY and O_WRONLY,
//     or both blocking and nonblocking.
//
// Nothing else merges: not two pty masters (each open of /dev/ptmx is its
// own pty), not two sockets, not two opens of a regular file (their offsets
// differ), of a pipe, a FIFO, a block device, or of a character device with
// per-open state (tun, fuse, kmsg, ...).
//
// Collapse is deterministic: the first slot of each resource is held, and
// Held is in input order. It compares a descriptor only with the held
// descriptors on the same inode, so it costs O(n·k) kcmp calls for n slots
// and k open file descriptions per inode. It changes no descriptor. Bad
// input (a negative or repeated Number or FD, a Desc that is not of its FD)
// gives an error wrapping ErrBadSlot, a closed FD one wrapping ErrBadFD.
func Collapse(slots []Slot) (Plan, error) {
	if err := validateSlots(slots); err != nil {
		return Plan{}, fmt.Errorf("collapse: %w", err)
	}
	c := collapser{byDevice: map[deviceKey]int{}, byInode: map[inodeKey][]int{}}
	p := Plan{Restore: make([]int, len(slots))}
	for i, s := range slots {
		h, found, err := c.lookup(&p, s)
		if err != nil {
			return Plan{}, fmt.Errorf("collapse slot %d (fd %d): %w", i, s.FD, err)
		}
		if !found {
			h = len(p.Held)
			p.Held = append(p.Held, Held{Slot: i, FD: s.FD})
			c.remember(s, h)
		} else {
			p.Redundant = append(p.Redundant, s.FD)
		}
		p.Held[h].Numbers = append(p.Held[h].Numbers, s.Number)
		p.Restore[i] = h
	}
	return p, nil
}

// deviceKey identifies a device that merges across opens.
type deviceKey struct {
	rdev  uint64
	flags int
}

// inodeKey identifies an inode; descriptors on it merge only when SameFile.
type inodeKey struct {
	dev, ino uint64
}

// collapser indexes the held descriptors of a plan under construction.
type collapser struct {
	byDevice map[deviceKey]int  // -> index in Plan.Held
	byInode  map[inodeKey][]int // -> indices in Plan.Held, in order
}

// lookup finds the held descriptor that already covers s's resource.
func (c *collapser) lookup(p *Plan, s Slot) (int, bool, error) {
	if mergesByDevice(s.Desc) {
		h, ok := c.byDevice[deviceKey{s.Desc.Rdev, s.Desc.Flags}]
		return h, ok, nil
	}
	for _, h := range c.byInode[inodeKey{s.Desc.Dev, s.Desc.Ino}] {
		same, err := SameFile(p.Held[h].FD, s.FD)
		if err != nil {
			return 0, false, err
		}
		if same {
			return h, true, nil
		}
	}
	return 0, false, nil
}

func (c *collapser) remember(s Slot, h int) {
	if mergesByDevice(s.Desc) {
		c.byDevice[deviceKey{s.Desc.Rdev, s.Desc.Flags}] = h
		return
	}
	k := inodeKey{s.Desc.Dev, s.Desc.Ino}
	c.byInode[k] = append(c.byInode[k], h)
}

// statelessCharDevices are the memory devices (major 1) that keep no
// per-open state, so one open serves for all.
var statelessCharDevices = map[uint64]bool{
	unix.Mkdev(1, 3): true, // /dev/null
	unix.Mkdev(1, 5): true, // /dev/zero
	unix.Mkdev(1, 7): true, // /dev/full
	unix.Mkdev(1, 8): true, // /dev/random
	unix.Mkdev(1, 9): true, // /dev/urandom
}

// mergesByDevice reports whether separate opens of d's device are one
// resource.
func mergesByDevice(d Description) bool {
	switch d.Kind {
	case KindPTYSlave, KindTTY:
		return true
	case KindCharDevice:
		return statelessCharDevices[d.Rdev]
	}
	return false
}

// validateSlots checks numbers and descriptors are non-negative and
// distinct, and that each Desc is of its FD (same inode and device number):
// merging trusts Desc, so a mismatch would merge the wrong descriptors.
func validateSlots(slots []Slot) error {
	numbers := make(map[int]int, len(slots))
	fds := make(map[int]int, len(slots))
	for i, s := range slots {
		if s.Number < 0 || s.FD < 0 {
			return fmt.Errorf("%w: slot %d has number %d, fd %d", ErrBadSlot, i, s.Number, s.FD)
		}
		if j, seen := numbers[s.Number]; seen {
			return fmt.Errorf("%w: slots %d and %d both restore number %d", ErrBadSlot, j, i, s.Number)
		}
		if j, seen := fds[s.FD]; seen {
			return fmt.Errorf("%w: slots %d and %d both hold fd %d", ErrBadSlot, j, i, s.FD)
		}
		numbers[s.Number], fds[s.FD] = i, i
		if err := checkDesc(i, s); err != nil {
			return err
		}
	}
	return nil
}

func checkDesc(i int, s Slot) error {
	var st unix.Stat_t
	if err := fstat(s.FD, &st); err != nil {
		return fdError(fmt.Sprintf("check slot %d", i), s.FD, "fstat", err)
	}
	rdev := uint64(0)
	if t := st.Mode & unix.S_IFMT; t == unix.S_IFCHR || t == unix.S_IFBLK {
		rdev = st.Rdev
	}
	if st.Dev != s.Desc.Dev || st.Ino != s.Desc.Ino || rdev != s.Desc.Rdev || st.Mode&unix.S_IFMT != s.Desc.Mode&unix.S_IFMT {
		return fmt.Errorf("%w: slot %d: the description is not of fd %d", ErrBadSlot, i, s.FD)
	}
	return nil
}
