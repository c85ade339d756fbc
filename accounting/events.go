//go:build linux

package accounting

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// maxEventsFile bounds a read of cgroup.events ("populated 0\nfrozen 0\n").
const maxEventsFile = 512

// readEvent returns the value of key in dir/cgroup.events.
func readEvent(dir, key string) (uint64, error) {
	fd, err := unix.Open(filepath.Join(dir, "cgroup.events"), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, notFound(fmt.Errorf("open %s/cgroup.events: %w", dir, err))
	}
	defer unix.Close(fd)
	return preadEvent(fd, key)
}

// waitEvent returns once key in dir/cgroup.events reads want, or fails
// with ErrTimeout at the deadline. The kernel signals every change of
// cgroup.events as POLLPRI on a descriptor that has read the file, so this
// sleeps in poll(2) rather than polling the file.
func waitEvent(dir, key string, want uint64, deadline time.Time) error {
	fd, err := unix.Open(filepath.Join(dir, "cgroup.events"), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return notFound(fmt.Errorf("open %s/cgroup.events: %w", dir, err))
	}
	defer unix.Close(fd)
	for {
		v, err := preadEvent(fd, key)
		if err != nil {
			return err
		}
		if v == want {
			return nil
		}
		left := time.Until(deadline)
		if left <= 0 {
			return fmt.Errorf("%w: %s %s is %d, want %d", ErrTimeout, dir, key, v, want)
		}
		if err := pollPri(fd, left); err != nil {
			return err
		}
	}
}

// preadEvent reads the whole file from offset 0 (which also re-arms the
// kernel's change notification for fd) and returns key's value.
func preadEvent(fd int, key string) (uint64, error) {
	buf := make([]byte, maxEventsFile)
	n, err := unix.Pread(fd, buf, 0)
	if err != nil {
		return 0, fmt.Errorf("read cgroup.events: %w", err)
	}
	kv, err := parseKeyed(buf[:n])
	if err != nil {
		return 0, fmt.Errorf("read cgroup.events: %w", err)
	}
	v, ok := kv[key]
	if !ok {
		return 0, fmt.Errorf("read cgroup.events: no %q key: %w", key, ErrUnsupported)
	}
	return v, nil
}

func pollPri(fd int, d time.Duration) error {
	ms := int(min(d.Milliseconds()+1, math.MaxInt32))
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLPRI}}
	if _, err := unix.Poll(fds, ms); err != nil && !errors.Is(err, unix.EINTR) {
		return fmt.Errorf("poll cgroup.events: %w", err)
	}
	return nil
}

// parseKeyed decodes a flat-keyed cgroup file: lines of "key value" with
// an unsigned decimal value. A repeated key is an error.
func parseKeyed(b []byte) (map[string]uint64, error) {
	kv := make(map[string]uint64)
	for _, line := range bytes.Split(b, []byte{'\n'}) {
		if len(line) == 0 {
			continue
		}
		f := bytes.Fields(line)
		if len(f) != 2 {
			return nil, fmt.Errorf("bad line %q", line)
		}
		v, err := strconv.ParseUint(string(f[1]), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("bad value in %q", line)
		}
		if _, dup := kv[string(f[0])]; dup {
			return nil, fmt.Errorf("repeated key in %q", line)
		}
		kv[string(f[0])] = v
	}
	return kv, nil
}
