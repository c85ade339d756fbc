//go:build linux

package supervisor

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"

	"github.com/migrate-run/migrate/fdpass"
	"github.com/migrate-run/migrate/proto"
)

// maxAncestry bounds the walk up the process tree.
const maxAncestry = 64

// accept identifies the peer of a new connection from the kernel's
// credentials and returns its conn: an app's process (by cgroup, or by
// ancestry where the supervisor runs without cgroups), else an admin (the
// supervisor's own uid, or root), else an error wrapping ErrPermission.
// What the peer will claim in Hello plays no part.
func (s *Supervisor) accept(uc *net.UnixConn) (*conn, error) {
	cred, err := fdpass.PeerCred(uc)
	if err != nil {
		return nil, fmt.Errorf("identify peer: %w", err)
	}
	c := &conn{s: s, c: uc, cred: cred, pending: map[uint64]chan proto.Message{}, done: make(chan struct{})}
	c.app = s.appOf(int(cred.Pid))
	switch {
	case c.app != nil:
		c.log = s.log.With().Str("app", c.app.name).Int32("pid", cred.Pid).Logger()
	case cred.Uid == 0 || cred.Uid == uint32(os.Geteuid()):
		c.admin = true
		c.log = s.log.With().Bool("admin", true).Int32("pid", cred.Pid).Logger()
	default:
		return nil, fmt.Errorf("identify peer pid %d uid %d: belongs to no app and is not an admin: %w",
			cred.Pid, cred.Uid, ErrPermission)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, fmt.Errorf("accept peer pid %d: %w", cred.Pid, ErrClosed)
	}
	s.conns[c] = struct{}{}
	c.log.Debug().Msg("peer connected")
	return c, nil
}

// appOf returns the app the process pid belongs to, or nil. With cgroups,
// membership of the app's cgroup decides; without, the process or one of its
// ancestors must be a process the supervisor started for the app.
func (s *Supervisor) appOf(pid int) *App {
	if s.cg != nil {
		paths := cgroupPaths(pid)
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, a := range s.apps {
			if a.inCgroup(paths) {
				return a
			}
		}
		return nil
	}
	for range maxAncestry {
		s.mu.Lock()
		p := s.procs[pid]
		s.mu.Unlock()
		if p != nil {
			return p.app
		}
		ppid, err := parentOf(pid)
		if err != nil || ppid <= 1 {
			return nil
		}
		pid = ppid
	}
	return nil
}

// cgroupPaths returns the cgroup paths of /proc/PID/cgroup, one per
// hierarchy ("/migrate/web"); nil if the process is gone.
func cgroupPaths(pid int) []string {
	f, err := os.Open(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		return nil
	}
	defer f.Close()
	var paths []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// hierarchy-id:controllers:path
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) == 3 {
			paths = append(paths, parts[2])
		}
	}
	return paths
}

// parentOf returns the PPid of /proc/PID/status.
func parentOf(pid int) (int, error) {
	v, err := statusField(pid, "PPid")
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(v)
}

// statusField returns the value of one "Name:\tvalue" line of
// /proc/PID/status.
func statusField(pid int, name string) (string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return "", fmt.Errorf("read status of pid %d: %w", pid, err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && k == name {
			return strings.TrimSpace(v), nil
		}
	}
	return "", fmt.Errorf("read %s of pid %d: %w", name, pid, os.ErrNotExist)
}
