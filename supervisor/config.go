package supervisor

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/rs/zerolog"
)

// Defaults of Config's zero fields.
const (
	DefaultSuspendTimeout = 5 * time.Second
	DefaultExpiry         = time.Hour
	DefaultMaxExpiry      = 24 * time.Hour
	DefaultStopTimeout    = 5 * time.Second
	DefaultResumeTimeout  = 30 * time.Second
	DefaultMaxStoreBytes  = 16 << 20
	DefaultMaxValueBytes  = 1 << 20
	// StoreFile is the name of the continuation store in Config.StateDir.
	StoreFile = "migrate.db"
)

// Config configures a Supervisor. The zero value of every field but
// StateDir and Socket takes the default named beside it.
type Config struct {
	// Socket is the control socket's path (DefaultSocket()).
	Socket string
	// StateDir holds the continuation store, StateDir/migrate.db
	// (DefaultStateDir()). It is created with mode 0700.
	StateDir string
	// CgroupParent is the parent cgroup of the apps' cgroups ("" means
	// accounting.DefaultParent, "migrate").
	CgroupParent string
	// NoCgroups runs apps without cgroups even where they are available;
	// peers are then told apart by process ancestry.
	NoCgroups bool
	// SuspendTimeout is how long an app has to answer a SuspendRequest.
	SuspendTimeout time.Duration
	// DefaultExpiry is the lifetime of a continuation whose ReturnCont asks
	// none; MaxExpiry caps every lifetime.
	DefaultExpiry time.Duration
	MaxExpiry     time.Duration
	// StopTimeout is how long a stopping app has between SIGTERM and the
	// cgroup's SIGKILL.
	StopTimeout time.Duration
	// ResumeTimeout is how long a fresh process has to confirm (Resumed)
	// before it is killed and its continuation suspended again.
	ResumeTimeout time.Duration
	// MaxStoreBytes and MaxValueBytes bound a session's attribute/value
	// store and one value.
	MaxStoreBytes uint64
	MaxValueBytes uint32
	// LogLines and LogBytes bound the ring of an app's captured output
	// (AppSpec.Capture): its last LogLines lines (DefaultLogLines) whose
	// text totals at most LogBytes (DefaultLogBytes).
	LogLines int
	LogBytes int
	// Log receives the supervisor's structured log; the zero value logs
	// nothing.
	Log zerolog.Logger
}

// DefaultSocket returns the control socket's default path:
// /run/migrate/migrated.sock as root, $XDG_RUNTIME_DIR/migrate/migrated.sock
// otherwise (/tmp/migrate-UID/migrated.sock without XDG_RUNTIME_DIR).
func DefaultSocket() string {
	if os.Geteuid() == 0 {
		return "/run/migrate/migrated.sock"
	}
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" {
		return filepath.Join(d, "migrate", "migrated.sock")
	}
	return filepath.Join(os.TempDir(), fmt.Sprintf("migrate-%d", os.Geteuid()), "migrated.sock")
}

// DefaultStateDir returns the state directory's default: /var/lib/migrate as
// root, $XDG_STATE_HOME/migrate otherwise (~/.local/state/migrate without
// XDG_STATE_HOME).
func DefaultStateDir() string {
	if os.Geteuid() == 0 {
		return "/var/lib/migrate"
	}
	if d := os.Getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "migrate")
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".local", "state", "migrate")
}

// withDefaults returns c with its zero fields set to the defaults.
func (c Config) withDefaults() (Config, error) {
	if c.Socket == "" {
		c.Socket = DefaultSocket()
	}
	if c.StateDir == "" {
		c.StateDir = DefaultStateDir()
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&c.SuspendTimeout, DefaultSuspendTimeout)
	def(&c.DefaultExpiry, DefaultExpiry)
	def(&c.MaxExpiry, DefaultMaxExpiry)
	def(&c.StopTimeout, DefaultStopTimeout)
	def(&c.ResumeTimeout, DefaultResumeTimeout)
	if c.MaxStoreBytes == 0 {
		c.MaxStoreBytes = DefaultMaxStoreBytes
	}
	if c.MaxValueBytes == 0 {
		c.MaxValueBytes = DefaultMaxValueBytes
	}
	if c.LogLines == 0 {
		c.LogLines = DefaultLogLines
	}
	if c.LogBytes == 0 {
		c.LogBytes = DefaultLogBytes
	}
	switch {
	case !filepath.IsAbs(c.Socket):
		return c, fmt.Errorf("check config: socket %q is not absolute: %w", c.Socket, ErrBadConfig)
	case c.SuspendTimeout < 0 || c.DefaultExpiry < 0 || c.MaxExpiry < 0 || c.StopTimeout < 0 || c.ResumeTimeout < 0:
		return c, fmt.Errorf("check config: negative duration: %w", ErrBadConfig)
	case c.LogLines < 0 || c.LogBytes < 0:
		return c, fmt.Errorf("check config: negative log ring bound: %w", ErrBadConfig)
	case c.DefaultExpiry > c.MaxExpiry:
		return c, fmt.Errorf("check config: default expiry %v above the cap %v: %w", c.DefaultExpiry, c.MaxExpiry, ErrBadConfig)
	case c.SuspendTimeout/time.Millisecond > 1<<32-1 || c.SuspendTimeout < time.Millisecond:
		return c, fmt.Errorf("check config: suspend timeout %v out of range: %w", c.SuspendTimeout, ErrBadConfig)
	}
	return c, nil
}
