package tests

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestSupervisorsBesideKeepTheirApps runs a migrated with app counter, then
// tries a second supervisor on the same cgroup parent with another socket,
// as a second migrated and as an embedded migrate-run (what two
// migrate-run with different --socket and the default parent amount to),
// each wanting an app of the same name. Each refuses to start, naming the
// first one's pid and --cgroup-parent, and makes no socket and no store;
// the first one's app keeps streaming. A second migrated with a cgroup
// parent of its own then runs its counter beside the first.
func TestSupervisorsBesideKeepTheirApps(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: without cgroups the supervisors share nothing")
	}
	first := startDaemon(t)
	_, addr := first.counterApp("counter", 5*time.Millisecond)
	s := dialStream(t, addr)
	first.waitSessions(1)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	dir := t.TempDir()
	sock, state := filepath.Join(dir, "run", "migrated.sock"), filepath.Join(dir, "state")
	common := []string{"--socket", sock, "--state-dir", state, "--cgroup-parent", first.parent}
	refused := map[string]*exec.Cmd{
		"migrated": exec.CommandContext(ctx, binPath(t, "migrated"), common...),
		"migrate-run": exec.CommandContext(ctx, binPath(t, "migrate-run"), append(common, "--name", "counter",
			"--listen", "tcp://127.0.0.1:0", "--", binPath(t, "counter-server"), "--interval", "5ms")...),
	}
	for name, cmd := range refused {
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Fatalf("%s on a cgroup parent in use: %v, want a refusal:\n%s", name, err, out)
		}
		msg := string(out)
		t.Logf("%s exited %d: %s", name, ee.ExitCode(), strings.TrimSpace(msg))
		if !strings.Contains(msg, "in use by another supervisor, pid "+strconv.Itoa(first.pid())) ||
			!strings.Contains(msg, "--cgroup-parent") {
			t.Errorf("%s's refusal does not name pid %d and --cgroup-parent:\n%s", name, first.pid(), msg)
		}
		for _, p := range []string{filepath.Dir(sock), state} {
			if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("the refused %s made %s (%v)", name, p, err)
			}
		}
		last, _, _ := s.state()
		if _, _, err := s.waitPast(ctx, last+20); err != nil {
			t.Fatalf("the first supervisor's app after %s was refused: %v", name, err)
		}
	}

	second := startDaemon(t) // a cgroup parent of its own
	_, addr2 := second.counterApp("counter", 5*time.Millisecond)
	s2 := dialStream(t, addr2)
	second.waitSessions(1)
	for i, st := range []*stream{s, s2} {
		last, _, _ := st.state()
		if _, _, err := st.waitPast(ctx, last+20); err != nil {
			t.Errorf("app of supervisor %d: %v", i+1, err)
		}
	}
}
