package supervisor

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/migrate-run/migrate/contstore"
)

// stageTimes collects the durations the supervisor reports per stage.
type stageTimes struct {
	mu sync.Mutex
	d  map[stage][]time.Duration
}

func (st *stageTimes) add(s stage, d time.Duration) {
	st.mu.Lock()
	st.d[s] = append(st.d[s], d)
	st.mu.Unlock()
}

// report adds the median and p99 of each stage to b's metrics.
func (st *stageTimes) report(b *testing.B, name string, ds []time.Duration) {
	if len(ds) == 0 {
		return
	}
	slices.Sort(ds)
	b.ReportMetric(float64(ds[len(ds)/2].Microseconds()), name+"-p50-µs")
	b.ReportMetric(float64(ds[(len(ds)*99)/100].Microseconds()), name+"-p99-µs")
}

// BenchmarkSuspendResume measures a complete continuation on one host, end
// to end (SuspendRequest sent → fresh process confirmed, the client's next
// answer read), with the stage split: the app's suspend (request →
// ReturnCont committed), the commit (contstore.Put), the launch
// (launcher.Start) and the notification (launch → Resumed committed), and
// the steps inside them (see trace.go).
func BenchmarkSuspendResume(b *testing.B) {
	st := &stageTimes{d: map[stage][]time.Duration{}}
	h := newHarness(b, nil)
	h.s.onStage = st.add
	app := h.startApp("bench")
	cl := dialApp(h.t, app.expect("listening")[0])
	sid := contstore.SessionID(atou(h.t, app.expect("registered")[1]))
	var e2e []time.Duration
	next := uint64(0)
	b.ResetTimer()
	for b.Loop() {
		start := time.Now()
		cycle(h.t, h, app, sid)
		cl.expectRun(next, 1)
		next++
		e2e = append(e2e, time.Since(start))
	}
	b.StopTimer()
	st.report(b, "suspend", st.d[stageAppSuspend])
	st.report(b, "commit", st.d[stageCommit])
	st.report(b, "launch", st.d[stageLaunch])
	st.report(b, "notified", st.d[stageNotified])
	st.report(b, "app-return", st.d[stageAppReturn])
	st.report(b, "app-start", st.d[stageAppStart])
	st.report(b, "app-requests", st.d[stageAppRequests])
	st.report(b, "confirm-commit", st.d[stageConfirmCommit])
	st.report(b, "e2e", e2e)
}
