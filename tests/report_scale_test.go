package tests

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/migrate-run/migrate/contstore"
	"github.com/migrate-run/migrate/internal/benchout"
	"github.com/migrate-run/migrate/supervisor"
)

// scaleTick is counter-server's interval in the scale run. A fresh
// process sends its first number as soon as it confirmed, so the tick is
// not part of "run" or "total"; it only sets the load of N streaming
// processes (at 50 ms, 1,024 of them keep two cores busy by themselves).
const scaleTick = time.Second

// BenchmarkReportScale is the paper's Figs. 14 and 16: for N = 1, 2, 4, …
// 1024 (quick: up to 16) counter sessions of one counter-server under a
// fresh migrated, all N suspended at once (N admin requests in flight),
// then all N resumed at once; the wall time until all were suspended,
// until all were resumed, and until every client received its next
// number, the average of each stage per session, and the sessions whose
// stream broke, which must be none. migrated is profiled at the largest N.
//
//	MIGRATE_BENCH_QUICK=1 go test -run '^$' -bench ReportScale -benchtime 1x ./tests/
func BenchmarkReportScale(b *testing.B) {
	largest := benchout.Pick(1024, 16)
	ensureNofile(b, 4*largest+512)
	out := benchout.Scale{App: "counter-server", Notes: []string{
		fmt.Sprintf("counter-server --interval %v; a fresh process sends its first number as soon as it confirmed", scaleTick),
		"a fresh migrated per N; each of the N sessions has its own admin connection, all requests sent at once",
	}}
	start := time.Now()
	for n := 1; n <= largest; n *= 2 {
		var prof *profile
		if n == largest {
			prof = newProfile(b, benchout.SectionScale)
		}
		b.Run(fmt.Sprintf("N=%d", n), func(b *testing.B) {
			pt, cpu := scaleRound(b, n, prof)
			out.Points = append(out.Points, pt)
			if prof != nil {
				out.Profile, out.ProfileTop = prof.finish(b)
				out.Notes = append(out.Notes, fmt.Sprintf("N=%d, from the first suspend until the last resume acknowledged: %s", n, cpu))
			}
		})
		if b.Failed() {
			b.FailNow()
		}
	}
	b.Logf("scale run: %v", time.Since(start).Round(time.Millisecond))
	if err := benchout.Write(benchout.SectionScale, out); err != nil {
		b.Fatal(err)
	}
}

// scaleRound measures one N: it starts migrated (profiled when prof is
// set), counter-server and N clients, suspends and resumes all N at once,
// and stops everything before it returns, even on failure.
func scaleRound(b *testing.B, n int, prof *profile) (benchout.ScalePoint, string) {
	extra := []string{"--log-level", "info"}
	if prof != nil {
		extra = append(extra, "--cpuprofile", prof.path)
	}
	d := startDaemon(b, extra...)
	_, addr := d.counterApp("counter", scaleTick)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	setup := time.Now()
	clients := make([]*numbered, n)
	admins := make([]*supervisor.AdminClient, n)
	b.Cleanup(func() {
		for i := range n {
			if clients[i] != nil {
				clients[i].close()
			}
			if admins[i] != nil {
				admins[i].Close()
			}
		}
	})
	parallelB(b, n, func(i int) (err error) {
		if clients[i], err = connectNumbered(addr); err != nil {
			return err
		}
		admins[i], err = supervisor.Dial(d.sock)
		return err
	})
	// Each client's first number: its server registered its session
	// before it sent anything.
	parallelB(b, n, func(i int) error { _, err := clients[i].arrival(ctx, 1); return err })
	sessions, err := sessionsByPort(ctx, admins[0], n)
	if err != nil {
		b.Fatal(err)
	}
	order := make([]contstore.SessionID, n)
	for i, c := range clients {
		if order[i] = sessions[c.conn.LocalAddr().String()]; order[i] == 0 {
			b.Fatalf("no session for client %d (%s)", i, c.conn.LocalAddr())
		}
	}
	b.Logf("N=%d: %d sessions streaming after %v", n, n, time.Since(setup).Round(time.Millisecond))

	cpu0 := takeCPU(d.pid())
	r := &scaleResults{n: n, conts: make([]contstore.ID, n), sst: make([]supervisor.StageTimes, n),
		rst: make([]supervisor.StageTimes, n), suspended: make([]time.Time, n), resumed: make([]time.Time, n)}
	t0 := allAtOnce(b, n, func(i int) (err error) {
		var ids []contstore.ID
		ids, r.sst[i], err = admins[i].SuspendStages(ctx, order[i])
		r.suspended[i] = time.Now()
		if err == nil && len(ids) != 1 {
			err = fmt.Errorf("suspend session %v: continuations %v, want one", order[i], ids)
		}
		if err == nil {
			r.conts[i] = ids[0]
		}
		return err
	})
	t1 := allAtOnce(b, n, func(i int) error {
		res, err := admins[i].Resume(ctx, r.conts[i])
		r.resumed[i], r.rst[i] = time.Now(), res.Stages
		return err
	})
	cpu := takeCPU(d.pid()).since(cpu0)
	arrived := make([]time.Time, n)
	parallelB(b, n, func(i int) error {
		next, err := storedNext(ctx, admins[i], r.conts[i])
		if err == nil {
			arrived[i], err = clients[i].arrival(ctx, next)
		}
		return err
	})
	pt := r.point(t0, t1, arrived)
	for _, c := range clients {
		if c.failed() != nil {
			pt.Failed++
		}
	}
	b.Logf("N=%d: all suspended %.1f ms, all resumed %.1f ms, all clients on %.1f ms; per session %s; %d broken; %s",
		n, pt.SuspendAll, pt.ResumeAll, pt.Total, fmtAvg(pt.Avg), pt.Failed, cpu)
	if pt.Failed != 0 {
		b.Errorf("N=%d: %d of %d clients' streams broke", n, pt.Failed, n)
	}
	if prof != nil {
		d.stopNow()
	}
	return pt, cpu
}

// cpuTimes are the machine's busy and total CPU time (all CPUs) and
// migrated's own CPU time at one moment, in clock ticks, from /proc.
type cpuTimes struct {
	at                time.Time
	busy, total, proc uint64
}

func takeCPU(pid int) cpuTimes {
	c := cpuTimes{at: time.Now()}
	if b, err := os.ReadFile("/proc/stat"); err == nil {
		line, _, _ := strings.Cut(string(b), "\n")
		for i, f := range strings.Fields(line)[1:] {
			v, _ := strconv.ParseUint(f, 10, 64)
			c.total += v
			if i != 3 && i != 4 { // idle, iowait
				c.busy += v
			}
		}
	}
	if b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat"); err == nil {
		// pid (comm) state ...: utime and stime are fields 14 and 15.
		f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
		if len(f) > 12 {
			u, _ := strconv.ParseUint(f[11], 10, 64)
			s, _ := strconv.ParseUint(f[12], 10, 64)
			c.proc = u + s
		}
	}
	return c
}

// since describes the CPU used between c0 and c: how busy the machine's
// CPUs were and how much of one CPU migrated used.
func (c cpuTimes) since(c0 cpuTimes) string {
	if c.total == c0.total {
		return "CPU not measured"
	}
	wall := c.at.Sub(c0.at).Seconds()
	tick := 0.01 // USER_HZ
	return fmt.Sprintf("%.1f s, machine CPUs %.0f%% busy, migrated %.2f CPU-s (%.0f%% of one CPU)",
		wall, 100*float64(c.busy-c0.busy)/float64(c.total-c0.total),
		float64(c.proc-c0.proc)*tick, 100*float64(c.proc-c0.proc)*tick/wall)
}

// scaleResults are one round's replies and times, by client.
type scaleResults struct {
	n                  int
	conts              []contstore.ID
	sst, rst           []supervisor.StageTimes
	suspended, resumed []time.Time
}

// point sums the round up: suspends sent at t0, resumes at t1, each
// client's next number at arrived[i].
func (r *scaleResults) point(t0, t1 time.Time, arrived []time.Time) benchout.ScalePoint {
	pt := benchout.ScalePoint{N: r.n, Avg: map[string]float64{}}
	sum := map[string]time.Duration{}
	count := map[string]int{}
	add := func(k string, d time.Duration) { sum[k] += d; count[k]++ }
	for i := range r.n {
		pt.SuspendAll = max(pt.SuspendAll, benchout.Ms(r.suspended[i].Sub(t0)))
		pt.ResumeAll = max(pt.ResumeAll, benchout.Ms(r.resumed[i].Sub(t1)))
		pt.Total = max(pt.Total, benchout.Ms(arrived[i].Sub(t0)))
		for _, st := range []supervisor.StageTimes{r.sst[i], r.rst[i]} {
			for k, d := range st {
				add(k, d)
			}
		}
		add(benchout.StageSuspend, r.suspended[i].Sub(t0))
		add(benchout.StageResume, r.resumed[i].Sub(t1))
		add(benchout.StageRun, max(arrived[i].Sub(r.resumed[i]), 0))
		add(benchout.StageEndToEnd, arrived[i].Sub(t0))
	}
	for k, d := range sum {
		pt.Avg[k] = benchout.Ms(d / time.Duration(count[k]))
	}
	return pt
}

func fmtAvg(avg map[string]float64) string {
	var s string
	for _, k := range slices.Sorted(maps.Keys(avg)) {
		s += fmt.Sprintf("%s %.2f ms ", k, avg[k])
	}
	return s
}

// allAtOnce runs fn(0..n-1) in n goroutines released together, and
// returns when they were released; it fails b with every error.
func allAtOnce(b *testing.B, n int, fn func(i int) error) time.Time {
	b.Helper()
	errs := make([]error, n)
	var ready, done sync.WaitGroup
	release := make(chan struct{})
	for i := range n {
		ready.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			ready.Done()
			<-release
			errs[i] = fn(i)
		}()
	}
	ready.Wait()
	t0 := time.Now()
	close(release)
	done.Wait()
	failIf(b, errs)
	return t0
}

// parallelB runs fn(0..n-1) on at most 64 goroutines at a time and fails b
// with every error.
func parallelB(b *testing.B, n int, fn func(i int) error) {
	b.Helper()
	errs := make([]error, n)
	sem := make(chan struct{}, 64)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() { defer wg.Done(); defer func() { <-sem }(); errs[i] = fn(i) }()
	}
	wg.Wait()
	failIf(b, errs)
}

func failIf(b *testing.B, errs []error) {
	b.Helper()
	var failed int
	for _, err := range errs {
		if err != nil {
			if failed < 10 {
				b.Error(err)
			}
			failed++
		}
	}
	if failed > 0 {
		b.Fatalf("%d of %d failed", failed, len(errs))
	}
}

// sessionsByPort waits until n sessions are active and returns them by
// their client's address (the peer of the session's connection).
func sessionsByPort(ctx context.Context, ac *supervisor.AdminClient, n int) (map[string]contstore.SessionID, error) {
	deadline := time.Now().Add(60 * time.Second)
	for {
		list, err := ac.Sessions(ctx, "counter")
		if err != nil {
			return nil, err
		}
		out := map[string]contstore.SessionID{}
		for _, s := range list {
			if s.State == "active" && s.Conn.Peer != "" {
				out[s.Conn.Peer] = s.ID
			}
		}
		if len(out) == n {
			return out, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%d active sessions after 60s, want %d", len(out), n)
		}
		time.Sleep(20 * time.Millisecond) // no event says a session registered
	}
}

// ensureNofile raises this process's RLIMIT_NOFILE (and with it, inherited,
// migrated's) to at least need: the soft limit up to the hard one, and the
// hard one too as root.
func ensureNofile(b *testing.B, need int) {
	b.Helper()
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		b.Fatal(err)
	}
	if lim.Cur >= uint64(need) {
		return
	}
	want := lim
	want.Cur = max(lim.Cur, uint64(need))
	want.Max = max(lim.Max, want.Cur)
	// syscall's Setrlimit, not x/sys's: only it makes the children
	// inherit the new soft limit instead of the one at start-up.
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want); err != nil {
		b.Fatalf("RLIMIT_NOFILE is %d (hard %d), %d needed: %v", lim.Cur, lim.Max, need, err)
	}
}
