//go:build linux

package launcher

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// config is what the parent tells the trampoline: everything about the new
// process that fork and exec alone cannot set. It travels in the binary
// form of codec_linux.go over the config socket. Parent and trampoline may
// be different binaries (a dedicated trampoline, see SetTrampoline), so it
// starts with protocolVersion. Cgroups holds the cgroup v1 directories the
// trampoline joins itself (see joinCgroups); the parent places it in the
// v2 cgroup.
type config struct {
	Protocol    int // protocolVersion
	Args        []string
	Env         []string // final, but for LISTEN_PID
	Cwd         string
	UID         uint32
	GID         uint32
	Groups      []uint32
	Umask       *uint32
	Rlimits     []specs.POSIXRlimit
	NoNewPrivs  bool
	OOMScoreAdj *int
	SigMask     SigSet
	ListenPID   bool
	PIDEnv      []string
	Keep        []int    // the targets, ascending: every other descriptor is closed at exec
	Cgroups     []string // cgroup v1 directories, to join before any other step
}

// protocolVersion names the meaning of config, of report and of the
// descriptor layout the trampoline is started with. Bump it with any change
// to them: a trampoline given a config of another version reports the
// failure of step opProtocol, a report whose format never changes, and the
// parent falls back to running its own binary as the trampoline. It is a
// variable for the tests only. Version 1 sent the config as JSON, version 2
// had the parent join the v1 cgroups.
var protocolVersion = 3

// opProtocol is the step a trampoline of another version fails.
const opProtocol = "trampoline protocol"

// errProtocol is the failure of a config of another protocol version.
var errProtocol = errors.New("the launcher and the trampoline binary are of different versions")

// maxConfigSize bounds what the trampoline reads: far above what execve
// accepts as arguments and environment.
const maxConfigSize = 64 << 20

// decodeConfig parses and checks a config; it is the trampoline's only input.
func decodeConfig(b []byte) (*config, error) {
	if len(b) > maxConfigSize {
		return nil, fmt.Errorf("decode config: %d bytes, more than %d", len(b), maxConfigSize)
	}
	if v, ok := peekProtocol(b); ok && v != uint64(protocolVersion) {
		return nil, fmt.Errorf("%w: protocol %d, trampoline %d", errProtocol, v, protocolVersion)
	}
	c, err := parseConfig(b)
	if err != nil {
		return nil, fmt.Errorf("decode config: %w", err)
	}
	if err := c.validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// validate checks everything the trampoline relies on. The parent runs it on
// the config it built from a Spec, so a bad Spec fails before anything starts.
func (c *config) validate() error {
	if c.Protocol != protocolVersion {
		return fmt.Errorf("%w: protocol %d, launcher %d", errProtocol, c.Protocol, protocolVersion)
	}
	if len(c.Args) == 0 || c.Args[0] == "" {
		return invalid("no program: Process.Args is empty")
	}
	if err := checkStrings("Process.Args", c.Args); err != nil {
		return err
	}
	if err := checkEnv(c.Env); err != nil {
		return err
	}
	if strings.IndexByte(c.Cwd, 0) >= 0 || !filepath.IsAbs(c.Cwd) {
		return invalid("working directory %q is not an absolute path", c.Cwd)
	}
	if c.Umask != nil && *c.Umask > 0o777 {
		return invalid("umask %#o is not in 0 to 0777", *c.Umask)
	}
	if c.OOMScoreAdj != nil && (*c.OOMScoreAdj < -1000 || *c.OOMScoreAdj > 1000) {
		return invalid("oom_score_adj %d is not in -1000 to 1000", *c.OOMScoreAdj)
	}
	if c.SigMask.Has(syscall.SIGKILL) || c.SigMask.Has(syscall.SIGSTOP) {
		return invalid("SIGKILL and SIGSTOP cannot be blocked")
	}
	if err := checkRlimits(c.Rlimits); err != nil {
		return err
	}
	for _, name := range c.PIDEnv {
		if name == "" || strings.ContainsAny(name, "=\x00") {
			return invalid("PIDEnv name %q is not a variable name", name)
		}
	}
	for i, fd := range c.Keep {
		if fd < 0 || (i > 0 && fd <= c.Keep[i-1]) {
			return invalid("descriptors to keep are not distinct, ascending and non-negative")
		}
	}
	for _, dir := range c.Cgroups {
		if strings.IndexByte(dir, 0) >= 0 || !filepath.IsAbs(dir) {
			return invalid("cgroup directory %q is not an absolute path", dir)
		}
	}
	return nil
}

func checkStrings(what string, ss []string) error {
	for _, s := range ss {
		if strings.IndexByte(s, 0) >= 0 {
			return invalid("NUL byte in %s entry %q", what, s)
		}
	}
	return nil
}

func checkEnv(env []string) error {
	for _, e := range env {
		if strings.IndexByte(e, '=') <= 0 || strings.IndexByte(e, 0) >= 0 {
			return invalid("environment entry %q is not KEY=value", e)
		}
	}
	return nil
}

func checkRlimits(rls []specs.POSIXRlimit) error {
	seen := make(map[string]bool, len(rls))
	for _, rl := range rls {
		if _, ok := rlimitResources[rl.Type]; !ok {
			return invalid("unknown rlimit %q", rl.Type)
		}
		if seen[rl.Type] {
			return invalid("rlimit %s given twice", rl.Type)
		}
		seen[rl.Type] = true
		if rl.Soft > rl.Hard {
			return invalid("rlimit %s: soft limit %d above hard limit %d", rl.Type, rl.Soft, rl.Hard)
		}
	}
	return nil
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalidSpec}, args...)...)
}
