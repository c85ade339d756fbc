//go:build linux

package launcher

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"

	"golang.org/x/sys/unix"
)

// TrampolineName is the file name of the dedicated trampoline binary
// (cmd/migrate-trampoline), which Start looks for beside the running
// executable.
const TrampolineName = "migrate-trampoline"

// trampolineExe is a dedicated trampoline binary, opened once: Start
// executes the descriptor, never the path, so the file it checked is the
// file it runs.
type trampolineExe struct {
	fd   int
	path string // for messages
}

// tramp is the trampoline Start uses. Start holds the read lock while it
// creates a trampoline (the descriptor must stay open until the fork has
// duplicated it), SetTrampoline and the fallback the write lock.
var tramp struct {
	sync.RWMutex
	chosen bool           // exe and why are set; until then the first user looks beside the executable
	exe    *trampolineExe // nil: the running binary (/proc/self/exe)
	why    error          // why exe is nil, when a dedicated binary was looked for
}

// SetTrampoline makes Start use the trampoline binary at path from now on,
// once it has opened it and found it safe: a regular file owned by root or
// by the caller's effective uid, not writable by its group or others, and
// executable. An empty path makes Start use the running binary itself
// (/proc/self/exe). When the file is refused the error wraps
// ErrUnsafeTrampoline, or the error that opening it gave (fs.ErrNotExist
// and the like), and Start goes on with the trampoline it used before.
//
// Without a call, Start looks for TrampolineName in the directory of the
// running executable the first time it needs a trampoline, and falls back
// to the running binary when it finds none or refuses it; TrampolineInUse
// says which, and why.
func SetTrampoline(path string) error {
	var exe *trampolineExe
	if path != "" {
		var err error
		if exe, err = openTrampoline(path); err != nil {
			return err
		}
	}
	tramp.Lock()
	defer tramp.Unlock()
	if tramp.exe != nil {
		unix.Close(tramp.exe.fd)
	}
	tramp.chosen, tramp.exe, tramp.why = true, exe, nil
	return nil
}

// TrampolineInUse returns the path of the binary Start executes as its
// trampoline: a dedicated one, or /proc/self/exe for the running binary.
// With the latter, fallback says why no dedicated binary is used (none
// beside the executable, one refused as unsafe, one that speaks another
// protocol); it is nil after SetTrampoline(""). It makes the choice Start
// would make if none was made yet.
func TrampolineInUse() (path string, fallback error) {
	exe := acquireTrampoline()
	defer tramp.RUnlock()
	if exe == nil {
		return selfExe, tramp.why
	}
	return exe.path, nil
}

// acquireTrampoline returns the trampoline to execute, nil for the running
// binary, with tramp's read lock held: the caller releases it once its
// fork is done.
func acquireTrampoline() *trampolineExe {
	tramp.RLock()
	if !tramp.chosen {
		tramp.RUnlock()
		tramp.Lock()
		if !tramp.chosen {
			tramp.exe, tramp.why = findTrampoline()
			tramp.chosen = true
		}
		tramp.Unlock()
		tramp.RLock()
	}
	return tramp.exe
}

// dropTrampoline stops using exe, which turned out unusable, and falls back
// to the running binary.
func dropTrampoline(exe *trampolineExe, why error) {
	tramp.Lock()
	defer tramp.Unlock()
	if tramp.exe != exe {
		return // replaced meanwhile
	}
	unix.Close(exe.fd)
	tramp.exe, tramp.why = nil, why
}

// executable is os.Executable, a seam for tests.
var executable = os.Executable

// findTrampoline opens TrampolineName beside the running executable.
func findTrampoline() (*trampolineExe, error) {
	self, err := executable()
	if err != nil {
		return nil, fmt.Errorf("look for the trampoline: %w", err)
	}
	return openTrampoline(filepath.Join(filepath.Dir(self), TrampolineName))
}

// openTrampoline opens the binary at path and checks, on the descriptor
// (so that a file swapped in after the check is not the one executed), that
// it is safe to run as root's trampoline. The directory it is in is trusted
// as the supervisor's own is: whoever can replace the file before it is
// opened can replace the supervisor's binary too, if they are in one
// directory.
func openTrampoline(path string) (*trampolineExe, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("trampoline %s: %w", path, os.NewSyscallError("open", err))
	}
	if err := checkTrampoline(fd); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("trampoline %s: %w: %w", path, ErrUnsafeTrampoline, err)
	}
	return &trampolineExe{fd: fd, path: path}, nil
}

func checkTrampoline(fd int) error {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return os.NewSyscallError("fstat", err)
	}
	mode := os.FileMode(st.Mode & 0o777)
	switch euid := os.Geteuid(); {
	case st.Mode&unix.S_IFMT != unix.S_IFREG:
		return errors.New("not a regular file")
	case st.Uid != 0 && int(st.Uid) != euid:
		return fmt.Errorf("owned by uid %d, neither root nor the supervisor's uid %d", st.Uid, euid)
	case mode&0o022 != 0:
		return fmt.Errorf("writable by its group or others (mode %v)", mode)
	case mode&0o111 == 0:
		return fmt.Errorf("not executable (mode %v)", mode)
	}
	return nil
}

// execPath is the path the child executes to run the trampoline whose
// descriptor it has at slot.
func execPath(slot int) string {
	return "/proc/self/fd/" + strconv.Itoa(slot)
}
