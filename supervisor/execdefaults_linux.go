//go:build linux

package supervisor

import (
	"bytes"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/migrate-run/migrate/proto"
)

// execOf converts a complete continuation's exec description to the
// runtime-spec Process the store keeps, filling what the app left out from
// its own running process (pid, read now, at ReturnCont time): argv from
// /proc/PID/cmdline, env from /proc/PID/environ (less the variables the
// supervisor sets on every start), cwd from /proc/PID/cwd, supplementary
// groups from /proc/PID/status. It refuses credentials the peer could not
// have had itself: a uid or gid that is none of its real, effective and
// saved ids, unless it runs as root.
func execOf(pid int, e *proto.Exec) (*specs.Process, error) {
	if e == nil {
		return nil, fmt.Errorf("complete continuation without exec: %w", ErrBadRequest)
	}
	p := &specs.Process{Args: e.Args, Env: e.Env, Cwd: e.Cwd, NoNewPrivileges: e.NoNewPrivileges,
		User: specs.User{UID: e.UID, GID: e.GID, AdditionalGids: e.Groups}}
	var err error
	if len(p.Args) == 0 {
		p.Args, err = procStrings(pid, "cmdline")
	}
	if err == nil && p.Env == nil {
		p.Env, err = procStrings(pid, "environ")
		p.Env = slices.DeleteFunc(p.Env, supervisorVar)
	}
	if err == nil && p.Cwd == "" {
		p.Cwd, err = os.Readlink(fmt.Sprintf("/proc/%d/cwd", pid))
	}
	if err == nil && p.User.AdditionalGids == nil {
		p.User.AdditionalGids, err = procGroups(pid)
	}
	if err != nil {
		return nil, fmt.Errorf("default exec from pid %d: %w", pid, err)
	}
	if err := checkCreds(pid, e.UID, e.GID); err != nil {
		return nil, err
	}
	for _, r := range e.Rlimits {
		p.Rlimits = append(p.Rlimits, specs.POSIXRlimit{Type: r.Type, Soft: r.Soft, Hard: r.Hard})
	}
	return p, nil
}

// supervisorVar reports a variable the supervisor sets itself on a start,
// which a defaulted environment must not carry over.
func supervisorVar(kv string) bool {
	k, _, _ := strings.Cut(kv, "=")
	switch k {
	case "MIGRATE_CONT", "MIGRATE_PID", "MIGRATE_CONT_ID", "MIGRATE_SOCKET", "MIGRATE_APP",
		"LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES":
		return true
	}
	return false
}

// procStrings reads a NUL-separated /proc/PID file (cmdline, environ).
func procStrings(pid int, name string) ([]string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/%s", pid, name))
	if err != nil {
		return nil, err
	}
	var out []string
	for f := range bytes.SplitSeq(bytes.TrimSuffix(b, []byte{0}), []byte{0}) {
		if len(f) > 0 {
			out = append(out, string(f))
		}
	}
	return out, nil
}

func procGroups(pid int) ([]uint32, error) {
	v, err := statusField(pid, "Groups")
	if err != nil {
		return nil, err
	}
	gids := []uint32{}
	for _, f := range strings.Fields(v) {
		n, err := strconv.ParseUint(f, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("parse groups of pid %d: %w", pid, err)
		}
		gids = append(gids, uint32(n))
	}
	return gids, nil
}

// procIDs returns the real, effective, saved and filesystem ids of a
// "Uid:" or "Gid:" status line.
func procIDs(pid int, field string) ([]uint32, error) {
	v, err := statusField(pid, field)
	if err != nil {
		return nil, err
	}
	var ids []uint32
	for _, f := range strings.Fields(v) {
		n, err := strconv.ParseUint(f, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("parse %s of pid %d: %w", field, pid, err)
		}
		ids = append(ids, uint32(n))
	}
	return ids, nil
}

// checkCreds refuses a uid or gid the process pid could not take itself.
func checkCreds(pid int, uid, gid uint32) error {
	uids, err := procIDs(pid, "Uid")
	if err != nil {
		return err
	}
	gids, err := procIDs(pid, "Gid")
	if err != nil {
		return err
	}
	if len(uids) > 1 && uids[1] == 0 {
		return nil
	}
	if !slices.Contains(uids, uid) || !slices.Contains(gids, gid) {
		return fmt.Errorf("exec as uid %d gid %d, which pid %d does not have: %w", uid, gid, pid, ErrPermission)
	}
	return nil
}
