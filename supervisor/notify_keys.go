package supervisor

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// notifyKeys maps each key we understand to what sets its field from a
// value, or says why the value is bad.
var notifyKeys = map[string]func(*notifyMsg, string) error{
	"READY":         notifyFlag(func(m *notifyMsg) *bool { return &m.Ready }),
	"RELOADING":     notifyFlag(func(m *notifyMsg) *bool { return &m.Reloading }),
	"STOPPING":      notifyFlag(func(m *notifyMsg) *bool { return &m.Stopping }),
	"FDSTORE":       notifyFlag(func(m *notifyMsg) *bool { return &m.FDStore }),
	"FDSTOREREMOVE": notifyFlag(func(m *notifyMsg) *bool { return &m.FDStoreRemove }),
	"BARRIER":       notifyFlag(func(m *notifyMsg) *bool { return &m.Barrier }),
	"STATUS":        func(m *notifyMsg, v string) error { m.Status = &v; return nil },
	"ERRNO":         setNotifyErrno,
	"MAINPID":       setNotifyMainPID,
	"WATCHDOG":      setNotifyWatchdog,
	"WATCHDOG_USEC": notifyUSec(func(m *notifyMsg) **uint64 { return &m.WatchdogUSec }),
	"EXTEND_TIMEOUT_USEC": notifyUSec(func(m *notifyMsg) **uint64 {
		return &m.ExtendTimeoutUSec
	}),
	"MONOTONIC_USEC": setNotifyMonotonic,
	"FDNAME":         setNotifyFDName,
	"FDPOLL":         setNotifyFDPoll,
}

// notifyFlag sets a boolean key, whose one value is 1.
func notifyFlag(field func(*notifyMsg) *bool) func(*notifyMsg, string) error {
	return func(m *notifyMsg, v string) error {
		if v != "1" {
			return errors.New("want 1")
		}
		*field(m) = true
		return nil
	}
}

// notifyUSec sets a key holding microseconds.
func notifyUSec(field func(*notifyMsg) **uint64) func(*notifyMsg, string) error {
	return func(m *notifyMsg, v string) error {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return errors.New("want a decimal number of microseconds")
		}
		*field(m) = &n
		return nil
	}
}

func setNotifyMonotonic(m *notifyMsg, v string) error {
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return errors.New("want a decimal number of microseconds")
	}
	if n != math.MaxUint64 { // USEC_INFINITY: unset
		m.MonotonicUSec = n
	}
	return nil
}

func setNotifyWatchdog(m *notifyMsg, v string) error {
	switch v {
	case "1":
		m.Watchdog = true
	case "trigger":
		m.WatchdogTrigger = true
	default:
		return errors.New("want 1 or trigger")
	}
	return nil
}

func setNotifyMainPID(m *notifyMsg, v string) error {
	n, err := strconv.ParseUint(v, 10, 31)
	if err != nil || n == 0 {
		return fmt.Errorf("want a pid, 1 to %d", math.MaxInt32)
	}
	m.MainPID = int(n)
	return nil
}

// setNotifyErrno takes a number 0 to 4095 or, as systemd's parse_errno
// does, an errno name ("ENOENT").
func setNotifyErrno(m *notifyMsg, v string) error {
	n, err := strconv.ParseUint(v, 10, 16)
	if err != nil || n > errnoMax {
		e, ok := errnoByName()[v]
		if !ok {
			return fmt.Errorf("want 0 to %d or an errno name", errnoMax)
		}
		n = uint64(e)
	}
	e := int(n)
	m.Errno = &e
	return nil
}

// errnoByName maps the errno names the kernel headers define to their
// numbers. Aliases (EWOULDBLOCK for EAGAIN) are missing: x/sys/unix keeps
// one name a number.
var errnoByName = sync.OnceValue(func() map[string]int {
	names := map[string]int{}
	for e := 1; e <= errnoMax; e++ {
		if name := unix.ErrnoName(syscall.Errno(e)); name != "" {
			names[name] = e
		}
	}
	return names
})

func setNotifyFDName(m *notifyMsg, v string) error {
	if v == "" {
		return nil
	}
	if err := checkFDName(v); err != nil {
		return fmt.Errorf("%w: %w", errBadFDName, err)
	}
	m.FDName = v
	return nil
}

func setNotifyFDPoll(m *notifyMsg, v string) error {
	var poll bool
	switch v {
	case "0":
	case "1":
		poll = true
	default:
		return errors.New("want 0 or 1")
	}
	m.FDPoll = &poll
	return nil
}
