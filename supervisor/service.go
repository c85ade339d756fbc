package supervisor

import (
	"reflect"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Defaults of a service file's optional keys (docs/services.md).
const (
	DefaultRestartDelay    = 100 * time.Millisecond
	DefaultRestartMaxDelay = time.Minute
	DefaultStartBurst      = 5
	DefaultStartInterval   = 10 * time.Second
	DefaultMaxConnections  = 64
	DefaultStartTimeout    = 90 * time.Second
	// ServiceFileExt is the extension LoadServices reads.
	ServiceFileExt = ".toml"
)

// Restart policies.
const (
	RestartNo        = "no"
	RestartOnFailure = "on-failure"
	RestartAlways    = "always"
)

// Readiness modes.
const (
	ReadyExec   = "exec"   // ready once the main process has been executed
	ReadyNotify = "notify" // ready once it sends READY=1 to NOTIFY_SOCKET
)

// Service is one parsed and validated service file. LoadServices and
// ParseService fill every field; the zero value of StopTimeout and Expiry
// means the supervisor's Config default. Two services with equal
// definitions compare equal with Equal, whatever their files' layout.
type Service struct {
	// Name is the service's name, an app name (its cgroup's name).
	Name string
	// File is the path the service was read from (not part of the
	// definition: Equal ignores it).
	File string
	// Args, Env and Cwd are the main process's argv, its environment
	// (KEY=value, in file order, or sorted by key for an env table) and its
	// absolute working directory ("/" unless set).
	Args []string
	Env  []string
	Cwd  string
	// User holds the resolved credentials; nil runs the service with the
	// supervisor's own.
	User *specs.User
	// Restart is when and how fast a stopped main process is started again.
	Restart RestartPolicy
	// StopSignal asks the main process to stop; StopTimeout later the
	// whole cgroup is killed (0: Config.StopTimeout).
	StopSignal  unix.Signal
	StopTimeout time.Duration
	// After names the services started before this one (sorted, unique).
	After []string
	// Resources are the service cgroup's limits; nil sets none.
	Resources *specs.LinuxResources
	// Expiry is the default lifetime of the service's continuations
	// (0: Config.DefaultExpiry).
	Expiry time.Duration
	// Readiness is ReadyExec or ReadyNotify; StartTimeout bounds the wait
	// for READY=1 (0: DefaultStartTimeout).
	Readiness    string
	StartTimeout time.Duration
	// Watchdog is the interval within which the main process must send
	// WATCHDOG=1 (passed as WATCHDOG_USEC); 0 disables it.
	Watchdog time.Duration
	// Listen are the sockets the supervisor opens and holds for the
	// service, in file order: LISTEN_FDS numbers them from fd 3 up.
	Listen []ListenSpec
	// FDStoreMax caps the descriptors the service may keep in the fd store
	// with FDSTORE=1 (0: no fd store); FDStorePreserve keeps them when the
	// service is stopped by an operator.
	FDStoreMax      int
	FDStorePreserve bool
}

// RestartPolicy is a service's [restart] section.
type RestartPolicy struct {
	// Policy is RestartNo, RestartOnFailure or RestartAlways.
	Policy string `json:"policy"`
	// Delay is the first restart's delay; each further consecutive restart
	// doubles it, up to MaxDelay.
	Delay    time.Duration `json:"delayNs"`
	MaxDelay time.Duration `json:"maxDelayNs"`
	// More than Burst starts within Interval stop the retries (state
	// "failed: start limit"); Interval 0 disables the limit.
	Burst    int           `json:"burst"`
	Interval time.Duration `json:"intervalNs"`
}

// ListenSpec is one [[listen]] entry.
type ListenSpec struct {
	// Address is "tcp://HOST:PORT", "udp://HOST:PORT", "unix:PATH" (stream)
	// or "unixpacket:PATH" (seqpacket).
	Address string `json:"address"`
	// Name is the socket's entry in LISTEN_FDNAMES (default: the service's
	// name).
	Name string `json:"name"`
	// Accept hands each connection to a fresh process on its stdin and
	// stdout (inetd style); MaxConnections caps the concurrent ones.
	Accept         bool `json:"accept,omitempty"`
	MaxConnections int  `json:"maxConnections,omitempty"`
}

// Equal reports whether s and o define the same service; File is ignored.
func (s *Service) Equal(o *Service) bool {
	a, b := *s, *o
	a.File, b.File = "", ""
	return reflect.DeepEqual(a, b)
}

// AppSpec returns the app StartApp runs for s: its stdio is /dev/null and
// its output captured (the service's log).
func (s *Service) AppSpec() AppSpec {
	spec := AppSpec{
		Name:            s.Name,
		Args:            append([]string(nil), s.Args...),
		Env:             append([]string(nil), s.Env...),
		Cwd:             s.Cwd,
		Stdio:           [3]int{-1, -1, -1},
		Capture:         true,
		Resources:       s.Resources,
		Expiry:          s.Expiry,
		Listen:          append([]ListenSpec(nil), s.Listen...),
		Restart:         s.Restart,
		StopSignal:      s.StopSignal,
		StopTimeout:     s.StopTimeout,
		Readiness:       s.Readiness,
		StartTimeout:    s.StartTimeout,
		Watchdog:        s.Watchdog,
		FDStoreMax:      s.FDStoreMax,
		FDStorePreserve: s.FDStorePreserve,
		File:            s.File,
	}
	if s.User != nil {
		u := *s.User
		u.AdditionalGids = append([]uint32(nil), u.AdditionalGids...)
		spec.User = &u
	}
	return spec
}
