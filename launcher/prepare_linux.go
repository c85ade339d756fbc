//go:build linux

package launcher

import (
	"fmt"
	"slices"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// plan is a checked Spec, ready to start. Building it touches nothing.
type plan struct {
	name    string    // Args[0], for messages
	cfg     *config   // what the trampoline's config says, for the direct path
	config  []byte    // the trampoline's config, encoded
	files   []uintptr // ProcAttr.Files: index is the target; the last slot is for the config socket
	sys     syscall.SysProcAttr
	cgroups []cgroupDir
}

// closedSlot marks a hole in ProcAttr.Files: that number is closed in the child.
const closedSlot = ^uintptr(0)

// prepare checks spec and turns it into a plan.
func prepare(spec Spec) (*plan, error) {
	if spec.Process == nil {
		return nil, invalid("no Process")
	}
	if err := checkSupported(spec.Process); err != nil {
		return nil, err
	}
	if err := checkEnv(spec.Process.Env); err != nil {
		return nil, err
	}
	if err := checkEnv(spec.ExtraEnv); err != nil {
		return nil, err
	}
	files, keep, err := layout(spec.Files)
	if err != nil {
		return nil, err
	}
	sys, err := sessionAttrs(spec, keep)
	if err != nil {
		return nil, err
	}
	cgroups, err := checkCgroups(spec.Cgroups)
	if err != nil {
		return nil, err
	}
	cfg := buildConfig(spec, keep)
	for _, cg := range cgroups {
		if !cg.v2 {
			cfg.Cgroups = append(cfg.Cgroups, cg.path)
		}
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &plan{name: cfg.Args[0], cfg: cfg, config: encodeConfig(cfg), files: files, sys: sys, cgroups: cgroups}, nil
}

// checkSupported refuses the runtime-spec fields launcher cannot honour.
func checkSupported(p *specs.Process) error {
	unsupported := []struct {
		set   bool
		field string
	}{
		{p.Terminal, "Terminal"},
		{p.ConsoleSize != nil, "ConsoleSize"},
		{p.CommandLine != "", "CommandLine"},
		{p.Capabilities != nil, "Capabilities"},
		{p.ApparmorProfile != "", "ApparmorProfile"},
		{p.SelinuxLabel != "", "SelinuxLabel"},
		{p.Scheduler != nil, "Scheduler"},
		{p.IOPriority != nil, "IOPriority"},
		{p.ExecCPUAffinity != nil, "ExecCPUAffinity"},
		{p.User.Username != "", "User.Username"},
	}
	for _, u := range unsupported {
		if u.set {
			return fmt.Errorf("%w: Process.%s", ErrUnsupported, u.field)
		}
	}
	return nil
}

// layout turns Files into ProcAttr.Files plus one slot above the highest
// target for the config socket, and returns the targets in ascending order.
// spawn may add one more slot above, for a dedicated trampoline binary.
func layout(files []FD) ([]uintptr, []int, error) {
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		return nil, nil, fmt.Errorf("read descriptor limit: %w", err)
	}
	keep := make([]int, 0, len(files))
	for _, f := range files {
		if err := checkFD(f, lim.Max); err != nil {
			return nil, nil, err
		}
		keep = append(keep, f.Target)
	}
	slices.Sort(keep)
	for i := 1; i < len(keep); i++ {
		if keep[i] == keep[i-1] {
			return nil, nil, invalid("duplicate target %d", keep[i])
		}
	}
	n := 1 // the config socket alone when Files is empty
	if len(keep) > 0 {
		n = keep[len(keep)-1] + 2
	}
	slots := make([]uintptr, n)
	for i := range slots {
		slots[i] = closedSlot
	}
	for _, f := range files {
		slots[f.Target] = uintptr(f.FD)
	}
	return slots, keep, nil
}

func checkFD(f FD, hardLimit uint64) error {
	if f.Target < 0 || f.FD < 0 {
		return invalid("negative descriptor in target %d, descriptor %d", f.Target, f.FD)
	}
	if uint64(f.Target)+2 >= hardLimit {
		return invalid("target %d: the layout and the two descriptors of the trampoline above it must stay below the descriptor limit %d", f.Target, hardLimit)
	}
	if _, err := unix.FcntlInt(uintptr(f.FD), unix.F_GETFD, 0); err != nil {
		return fmt.Errorf("%w: target %d: descriptor %d: %w", ErrInvalidSpec, f.Target, f.FD, err)
	}
	return nil
}

// sessionAttrs checks the session and process group fields.
func sessionAttrs(spec Spec, targets []int) (syscall.SysProcAttr, error) {
	var none syscall.SysProcAttr
	switch {
	case spec.Setsid && spec.Setpgid:
		return none, invalid("Setsid and Setpgid exclude each other")
	case spec.Pgid < 0 || (spec.Pgid != 0 && !spec.Setpgid):
		return none, invalid("Pgid %d without Setpgid, or negative", spec.Pgid)
	case spec.Setctty && !spec.Setsid:
		return none, invalid("Setctty requires Setsid")
	case spec.Setctty && !slices.Contains(targets, spec.Ctty):
		return none, invalid("Ctty %d is not a target in Files", spec.Ctty)
	case !spec.Setctty && spec.Ctty != 0:
		return none, invalid("Ctty %d without Setctty", spec.Ctty)
	}
	return syscall.SysProcAttr{
		Setsid:  spec.Setsid,
		Setpgid: spec.Setpgid,
		Pgid:    spec.Pgid,
		Setctty: spec.Setctty,
		Ctty:    spec.Ctty,
	}, nil
}

// buildConfig copies what the trampoline needs from spec.
func buildConfig(spec Spec, keep []int) *config {
	p := spec.Process
	return &config{
		Protocol:    protocolVersion,
		Args:        p.Args,
		Env:         mergeEnv(p.Env, spec.ExtraEnv),
		Cwd:         p.Cwd,
		UID:         p.User.UID,
		GID:         p.User.GID,
		Groups:      p.User.AdditionalGids,
		Umask:       p.User.Umask,
		Rlimits:     p.Rlimits,
		NoNewPrivs:  p.NoNewPrivileges,
		OOMScoreAdj: p.OOMScoreAdj,
		SigMask:     spec.SigMask,
		ListenPID:   spec.ListenPID,
		PIDEnv:      spec.PIDEnv,
		Keep:        keep,
	}
}
