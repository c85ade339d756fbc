package tests

import (
	"strings"
	"syscall"
	"testing"
)

// TestUpgradeWithAnOrphanedSession: one of three counter sessions loses
// its process (SIGKILL, as a crash would); the upgrade upgrades the two
// others and leaves the dead one out (it once failed the whole upgrade).
func TestUpgradeWithAnOrphanedSession(t *testing.T) {
	v2 := buildVariant(t, "./examples/counter/cmd/counter-server", "counter-server-v2", "version=2")
	a := runUpgradable(t, "counter", binPath(t, "counter-server"), "--interval", upInterval)
	dialCounters(t, a.addr, 3)
	sessions := a.sup.waitSessions(3)
	if err := syscall.Kill(sessions[0].PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitGone(t, sessions[0].PID)
	t.Logf("sessions after the kill: %+v", a.sup.sessions())
	up := a.upgrade(false, v2)
	if up.code != 0 || !strings.Contains(up.stdout, "\n2 sessions upgraded, 0 resumed under the old program, 0 not upgraded") {
		t.Errorf("migratectl upgrade: exit %d\n%s%s", up.code, up.stdout, up.stderr)
	}
}
