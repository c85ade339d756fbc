package tests

import (
	"fmt"
	"testing"
	"time"

	"github.com/migrate-run/migrate/examples/counter/streamcheck"
)

// BenchmarkUpgrade times migratectl upgrade of counter-server under 1, 10
// and 100 live sessions, each streaming to a client of the benchmark's
// (a line every 20 ms). Each iteration is one upgrade, to a v2 build and
// back to v1 in turn; every session must be upgraded each time, and every
// client must have lost and repeated nothing at the end. ns/op is the wall
// time around the migratectl process; supervisor-ms/op is the report's
// tookNs (suspend all, restart the main process, compat check, resume
// all), ms-per-session/op that divided by the sessions.
//
//	go test -run '^$' -bench Upgrade -benchtime 5x ./tests/
func BenchmarkUpgrade(b *testing.B) {
	v1 := binPath(b, "counter-server")
	v2 := buildVariant(b, "./examples/counter/cmd/counter-server", "counter-server-v2", "version=2")
	for _, n := range []int{1, 10, 100} {
		b.Run(fmt.Sprintf("sessions=%d", n), func(b *testing.B) {
			a := runUpgradable(b, "counter", v1, "--interval", upInterval)
			streams := make([]*vstream, n)
			for i := range streams {
				streams[i] = dialVersioned(b, a.addr, streamcheck.Counter)
			}
			a.sup.waitSessions(n)
			waitAll(b, streams, "a line", func(got uint64, _ []string) bool { return got > 0 })
			var took time.Duration
			upgrades := 0
			for b.Loop() {
				exec := v2
				if upgrades%2 == 1 {
					exec = v1
				}
				up := a.upgrade(true, exec)
				if up.code != 0 || up.report.Upgraded != n || up.report.Failed+up.report.FellBack != 0 {
					b.Fatalf("upgrade %d to %s: exit %d, %d of %d upgraded: %s%s", upgrades+1, exec, up.code, up.report.Upgraded, n, up.stdout, up.stderr)
				}
				took += up.report.Took
				upgrades++
			}
			ms := float64(took) / float64(upgrades) / float64(time.Millisecond)
			b.ReportMetric(ms, "supervisor-ms/op")
			b.ReportMetric(ms/float64(n), "ms-per-session/op")
			for i, s := range streams {
				if _, _, err := s.state(); err != nil {
					b.Errorf("client %d: %v", i, err)
				}
			}
		})
	}
}
