package supervisor

import (
	"fmt"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// StartOptions are the service settings of an app started over the admin
// API (migrate-run's --listen, --accept, --restart, --notify, ...): the
// JSON document in AdminStartApp's options field. The zero value of a
// field takes the same default as a service file's missing key.
type StartOptions struct {
	Listen          []ListenSpec   `json:"listen,omitempty"`
	Restart         *RestartPolicy `json:"restart,omitempty"`
	StopSignal      int            `json:"stopSignal,omitempty"`
	StopTimeout     time.Duration  `json:"stopTimeoutNs,omitempty"`
	Readiness       string         `json:"readiness,omitempty"`
	StartTimeout    time.Duration  `json:"startTimeoutNs,omitempty"`
	Watchdog        time.Duration  `json:"watchdogNs,omitempty"`
	FDStoreMax      int            `json:"fdstoreMax,omitempty"`
	FDStorePreserve bool           `json:"fdstorePreserve,omitempty"`
}

// DefaultRestart is the restart policy policy with the service file's
// defaults for the rest.
func DefaultRestart(policy string) RestartPolicy {
	return RestartPolicy{Policy: policy, Delay: DefaultRestartDelay, MaxDelay: DefaultRestartMaxDelay,
		Burst: DefaultStartBurst, Interval: DefaultStartInterval}
}

// Apply checks o as a service file's keys are checked and sets it on
// spec; a bad option is an error wrapping ErrBadConfig and sets nothing.
func (o *StartOptions) Apply(spec *AppSpec) error {
	if err := o.check(); err != nil {
		return fmt.Errorf("options: %w", err)
	}
	if len(o.Listen) > 0 {
		spec.Listen = append(spec.Listen[:0:0], o.Listen...)
		for i := range spec.Listen {
			l := &spec.Listen[i]
			if l.Name == "" {
				l.Name = listenName(l.Address)
			}
			if l.Accept && l.MaxConnections == 0 {
				l.MaxConnections = DefaultMaxConnections
			}
		}
	}
	if o.Restart != nil {
		spec.Restart = *o.Restart
	}
	spec.StopSignal = unix.Signal(o.StopSignal)
	spec.StopTimeout, spec.StartTimeout, spec.Watchdog = o.StopTimeout, o.StartTimeout, o.Watchdog
	spec.Readiness = o.Readiness
	spec.FDStoreMax, spec.FDStorePreserve = o.FDStoreMax, o.FDStorePreserve
	return nil
}

func (o *StartOptions) check() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), ErrBadConfig)
	}
	accept := 0
	seen := map[string]bool{}
	for _, l := range o.Listen {
		if err := checkAddress(l.Address, true); err != nil {
			return bad("listen: %v", err)
		}
		if seen[l.Address] {
			return bad("listen: %q given twice", l.Address)
		}
		seen[l.Address] = true
		if err := checkFDName(l.Name); l.Name != "" && err != nil {
			return bad("listen %s name: %v", l.Address, err)
		}
		if l.MaxConnections < 0 || l.MaxConnections > 1<<16 || (!l.Accept && l.MaxConnections != 0) {
			return bad("listen %s: max connections %d: want 1 to %d, with accept", l.Address, l.MaxConnections, 1<<16)
		}
		if l.Accept {
			accept++
			if l.Address[:3] == "udp" {
				return bad("listen %s: accept needs a stream or seqpacket socket", l.Address)
			}
		}
	}
	switch {
	case accept > 0 && accept < len(o.Listen):
		return bad("accept on %d of %d sockets: on every socket or on none", accept, len(o.Listen))
	case accept > 0 && (o.Readiness == ReadyNotify || o.Watchdog > 0 || (o.Restart != nil && o.Restart.Policy != RestartNo)):
		return bad("an accept service has no main process to wait for, watch or restart")
	case o.Readiness != "" && o.Readiness != ReadyExec && o.Readiness != ReadyNotify:
		return bad("readiness %q: want exec or notify", o.Readiness)
	case o.StopSignal < 0 || o.StopSignal > 64:
		return bad("stop signal %d: want 1 to 64", o.StopSignal)
	case o.StopTimeout < 0 || o.StartTimeout < 0 || o.Watchdog < 0:
		return bad("negative timeout")
	case o.FDStoreMax < 0 || o.FDStoreMax > 4096:
		return bad("fd store max %d: want 0 to 4096", o.FDStoreMax)
	}
	if r := o.Restart; r != nil {
		switch {
		case r.Policy != RestartNo && r.Policy != RestartOnFailure && r.Policy != RestartAlways:
			return bad("restart %q: want no, on-failure or always", r.Policy)
		case r.Delay < 0 || r.MaxDelay < r.Delay || r.Burst < 0 || r.Interval < 0:
			return bad("restart: want delay ≥ 0, max delay ≥ delay, burst ≥ 0, interval ≥ 0")
		}
	}
	return nil
}

// ParseSignal reads a signal as a service file's [stop] signal does: a
// name ("SIGTERM", "TERM") or a number.
func ParseSignal(s string) (unix.Signal, error) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return parseSignal(n)
	}
	return parseSignal(s)
}
