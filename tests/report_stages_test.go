package tests

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/migrate-run/migrate/contstore"
	"github.com/migrate-run/migrate/internal/benchout"
	"github.com/migrate-run/migrate/supervisor"
)

// The report's Table IV: same-host suspend + resume of one session, cycle
// after cycle, split into the stages the supervisor measures (its admin
// replies carry them) and the ones only the client sees:
//
//	app_suspend     suspend request sent to the app → continuation committed (supervisor)
//	app_return      inside app_suspend: request sent → the app's ReturnCont received (supervisor)
//	commit          inside app_suspend: the store's fsync'd write (supervisor)
//	launch          resume: the fresh process started, execve done (supervisor)
//	notified        launch returned → its Resumed committed (supervisor), made of:
//	app_start       the fresh process's start until its first request arrived (supervisor)
//	app_requests    that first request → its Resumed arrived (supervisor)
//	confirm_commit  Resumed arrived → the store committed the resume (supervisor)
//	run             resume acknowledged → the client receives the next byte
//	end_to_end      suspend request sent → the client receives the next byte
//	suspend         admin suspend as the caller sees it
//	resume          admin resume as the caller sees it
//
// migrated runs with --cpuprofile over the cycles; the profile is kept
// beside the results and the head of `go tool pprof -top` goes in the
// section.
//
//	MIGRATE_BENCH_QUICK=1 go test -run '^$' -bench 'ReportStages' -benchtime 1x ./tests/

// counterTick is counter-server's interval in the stages run. A resumed
// counter-server sends its overdue number as soon as it confirmed, so
// "run" measures the app rather than its pause between two numbers, and
// the tick only sets how busy the stream keeps the machine meanwhile.
const counterTick = 10 * time.Millisecond

// BenchmarkReportStagesCounter is Table IV for counter-server: its session's
// complete continuation (the connection and the next number) suspended and
// resumed in a fresh process, 200 cycles (quick: 20).
func BenchmarkReportStagesCounter(b *testing.B) {
	cycles := benchout.Pick(200, 20)
	prof := newProfile(b, benchout.SectionStagesCounter)
	d := startDaemon(b, "--log-level", "info", "--cpuprofile", prof.path)
	_, addr := d.counterApp("counter", counterTick)
	cl := dialNumbered(b, addr)
	sess := d.waitSessions(1)[0].ID
	ac := d.admin()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if _, err := cl.arrival(ctx, 10); err != nil {
		b.Fatal(err)
	}

	var st stageSamples
	for range cycles {
		t0 := time.Now()
		ids, sst, err := ac.SuspendStages(ctx, sess)
		if err != nil || len(ids) != 1 {
			b.Fatalf("suspend: %v %v", ids, err)
		}
		t1 := time.Now()
		res, err := ac.Resume(ctx, ids[0])
		if err != nil {
			b.Fatalf("resume: %v", err)
		}
		t2 := time.Now()
		// The fresh process's first number is the one the continuation
		// stored: the client's next byte.
		next, err := storedNext(ctx, ac, ids[0])
		if err != nil {
			b.Fatal(err)
		}
		at, err := cl.arrival(ctx, next)
		if err != nil {
			b.Fatal(err)
		}
		st.add(t0, t1, t2, at, sst, res.Stages)
		cl.forget(next)
	}
	if err := cl.failed(); err != nil {
		b.Fatalf("the client's stream: %v", err)
	}
	d.stopNow()
	notes := []string{fmt.Sprintf("counter-server --interval %v; a fresh process sends its first number as soon as it confirmed", counterTick)}
	st.write(b, benchout.SectionStagesCounter, "counter-server", cycles, prof, notes)
}

// stageSamples collects the durations of each stage over the cycles.
type stageSamples struct {
	d       map[string][]time.Duration
	missing map[string]int // supervisor stages a reply lacked
	early   int            // cycles whose next byte came before the resume's acknowledgement
	// rest is, per cycle, what app_suspend spends beyond app_return and
	// the commit: describing and collapsing the descriptors, holding
	// them, answering the app.
	rest []time.Duration
}

// supervisorStages are the stages the admin replies carry, by operation.
var (
	suspendStages = []string{supervisor.StageAppSuspend, supervisor.StageAppReturn, supervisor.StageCommit}
	resumeStages  = []string{supervisor.StageLaunch, supervisor.StageNotified,
		supervisor.StageAppStart, supervisor.StageAppRequests, supervisor.StageConfirmCommit}
)

// add records one cycle: suspend sent at t0 and acknowledged at t1, resume
// acknowledged at t2, the client's next byte at at; sst and rst are the
// replies' stages.
func (s *stageSamples) add(t0, t1, t2, at time.Time, sst, rst supervisor.StageTimes) {
	if s.d == nil {
		s.d, s.missing = map[string][]time.Duration{}, map[string]int{}
	}
	for _, k := range suspendStages {
		s.take(k, sst)
	}
	for _, k := range resumeStages {
		s.take(k, rst)
	}
	sus, ok1 := sst[supervisor.StageAppSuspend]
	ret, ok2 := sst[supervisor.StageAppReturn]
	com, ok3 := sst[supervisor.StageCommit]
	if ok1 && ok2 && ok3 {
		s.rest = append(s.rest, sus-ret-com)
	}
	if at.Before(t2) {
		s.early++
	}
	s.d[benchout.StageRun] = append(s.d[benchout.StageRun], max(at.Sub(t2), 0))
	s.d[benchout.StageEndToEnd] = append(s.d[benchout.StageEndToEnd], max(at.Sub(t0), t2.Sub(t0)))
	s.d[benchout.StageSuspend] = append(s.d[benchout.StageSuspend], t1.Sub(t0))
	s.d[benchout.StageResume] = append(s.d[benchout.StageResume], t2.Sub(t1))
}

func (s *stageSamples) take(k string, st supervisor.StageTimes) {
	if d, ok := st[k]; ok {
		s.d[k] = append(s.d[k], d)
	} else {
		s.missing[k]++
	}
}

// stageLabels are the report's names of the stages, in Table IV's order.
var stageLabels = []struct{ key, label string }{
	{benchout.StageAppSuspend, "app suspend"},
	{benchout.StageAppReturn, "app returns its continuation"},
	{benchout.StageCommit, "continuation commit"},
	{benchout.StageLaunch, "resume launch"},
	{benchout.StageNotified, "app notified"},
	{benchout.StageAppStart, "fresh process start"},
	{benchout.StageAppRequests, "fresh process requests"},
	{benchout.StageConfirmCommit, "confirm commit"},
	{benchout.StageRun, "continuation run"},
	{benchout.StageEndToEnd, "end to end"},
	{benchout.StageSuspend, "suspend (caller)"},
	{benchout.StageResume, "resume (caller)"},
}

// write logs the stages and writes the section, with the profile.
func (s *stageSamples) write(b *testing.B, section, app string, cycles int, prof *profile, notes []string) {
	b.Helper()
	out := benchout.Stages{App: app, Cycles: cycles, Notes: notes}
	for _, l := range stageLabels {
		dist := benchout.Summarize(s.d[l.key])
		out.Stages = append(out.Stages, benchout.Stage{Key: l.key, Label: l.label, Dist: dist})
		b.Logf("%-30s median %7.3f ms  p99 %7.3f ms  (%d)", l.label, dist.Median, dist.P99, dist.N)
	}
	for k, n := range s.missing {
		out.Notes = append(out.Notes, fmt.Sprintf("%d of %d replies lacked %s", n, cycles, k))
	}
	if gap := median(s.d[benchout.StageResume]) - median(s.d[benchout.StageLaunch]) - median(s.d[benchout.StageNotified]); gap > 0 {
		out.Notes = append(out.Notes, fmt.Sprintf("the caller's resume exceeds launch + notified by %.2f ms (medians): what neither covers: the admin round trip, preparing the launch, and answering the caller once the fresh process confirmed", benchout.Ms(gap)))
	}
	if len(s.rest) > 0 {
		out.Notes = append(out.Notes, fmt.Sprintf("app suspend beyond the app's return and the commit: %.2f ms (median per cycle): describing and collapsing the descriptors, holding them, answering the app", benchout.Ms(median(s.rest))))
	}
	if s.early > 0 {
		out.Notes = append(out.Notes, fmt.Sprintf("%d of %d cycles: the next byte arrived before the resume's acknowledgement (run counted 0)", s.early, cycles))
	}
	out.Profile, out.ProfileTop = prof.finish(b)
	for _, n := range out.Notes {
		b.Log(n)
	}
	if err := benchout.Write(section, out); err != nil {
		b.Fatal(err)
	}
}

func median(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[(len(s)-1)/2]
}

// storedNext reads the "next" number a counter-server continuation stored.
func storedNext(ctx context.Context, ac *supervisor.AdminClient, id contstore.ID) (uint64, error) {
	info, err := ac.Show(ctx, id, true)
	if err != nil {
		return 0, fmt.Errorf("show continuation %v: %w", id, err)
	}
	for _, e := range info.Store {
		if e.Key == "next" {
			return strconv.ParseUint(string(e.Value), 10, 64)
		}
	}
	return 0, fmt.Errorf("continuation %v stores no next: %+v", id, info.Store)
}

// stopNow stops migrated (SIGTERM, it stops its apps) and fails the
// benchmark if it does not: its CPU profile is written at a clean exit.
func (d *daemon) stopNow() {
	d.t.Helper()
	if err := d.stop(); err != nil {
		d.t.Fatal(err)
	}
}

// profile is a CPU profile of migrated: in MIGRATE_BENCH_OUT as
// <section>.cpu.pprof when it is set, in a temporary directory otherwise.
type profile struct {
	path string
	rel  string // relative to MIGRATE_BENCH_OUT, "" when not kept
}

func newProfile(b *testing.B, section string) *profile {
	name := section + ".cpu.pprof"
	if dir := os.Getenv(benchout.EnvOut); dir != "" {
		return &profile{path: filepath.Join(dir, name), rel: name}
	}
	return &profile{path: filepath.Join(b.TempDir(), name)}
}

// finish returns the profile's name for the section and the head of `go
// tool pprof -top` on it, once migrated wrote it: the functions by their
// own time, then by cumulative time (which names the costly step).
func (p *profile) finish(b *testing.B) (string, string) {
	b.Helper()
	if _, err := os.Stat(p.path); err != nil {
		b.Errorf("migrated wrote no CPU profile: %v", err)
		return "", ""
	}
	var tops []string
	for _, sort := range []string{"-flat", "-cum"} {
		out, err := exec.Command("go", "tool", "pprof", "-top", sort, "-nodecount=25", binPath(b, "migrated"), p.path).CombinedOutput()
		if err != nil {
			b.Errorf("go tool pprof -top %s: %v\n%s", sort, err, out)
			return p.rel, ""
		}
		tops = append(tops, "$ go tool pprof -top "+sort+" -nodecount=25 migrated "+filepath.Base(p.path)+"\n"+strings.TrimSpace(string(out)))
	}
	top := strings.Join(tops, "\n\n")
	b.Logf("migrated's CPU profile (%s):\n%s", p.path, top)
	return p.rel, top
}

// numbered is a counter client that records when each number arrived,
// so that the arrival of the number a continuation stored can be looked up
// after the resume. It fails on a gap, a repeat or a garbled line.
type numbered struct {
	conn net.Conn
	base time.Time
	mu   sync.Mutex
	from uint64  // at[0] is number from
	at   []int64 // arrival, ns after base; 0: not yet
	last uint64
	err  error
	more chan struct{} // a signal after each line
	done chan struct{}
}

// dialNumbered connects to a counter-server; it is closed at cleanup.
func dialNumbered(t testing.TB, addr string) *numbered {
	t.Helper()
	n, err := connectNumbered(addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.close)
	return n
}

func connectNumbered(addr string) (*numbered, error) {
	conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return nil, err
	}
	n := &numbered{conn: conn, base: time.Now(), from: 1, more: make(chan struct{}, 1), done: make(chan struct{})}
	go n.read()
	return n, nil
}

func (n *numbered) close() { n.conn.Close(); <-n.done }

func (n *numbered) read() {
	defer close(n.done)
	sc := bufio.NewScanner(n.conn)
	for sc.Scan() {
		now := time.Since(n.base).Nanoseconds() + 1
		v, err := strconv.ParseUint(sc.Text(), 10, 64)
		n.mu.Lock()
		switch {
		case err != nil:
			n.err = fmt.Errorf("garbled line %q after %d", sc.Text(), n.last)
		case v != n.last+1:
			n.err = fmt.Errorf("expected %d got %d", n.last+1, v)
		default:
			n.last = v
			if v >= n.from {
				n.at = append(n.at, now)
			}
		}
		bad := n.err != nil
		n.mu.Unlock()
		select {
		case n.more <- struct{}{}:
		default:
		}
		if bad {
			return
		}
	}
	n.mu.Lock()
	if n.err == nil {
		n.err = fmt.Errorf("connection ended after %d: %v", n.last, sc.Err())
	}
	n.mu.Unlock()
}

// arrival waits until number v arrived and returns when.
func (n *numbered) arrival(ctx context.Context, v uint64) (time.Time, error) {
	for {
		n.mu.Lock()
		last, err := n.last, n.err
		var at int64
		if v >= n.from && v < n.from+uint64(len(n.at)) {
			at = n.at[v-n.from]
		}
		n.mu.Unlock()
		if last >= v {
			if at == 0 {
				return time.Time{}, fmt.Errorf("number %d arrived before the client watched for it", v)
			}
			return n.base.Add(time.Duration(at)), nil
		}
		if err != nil {
			return time.Time{}, err
		}
		select {
		case <-n.more:
		case <-n.done:
		case <-ctx.Done():
			return time.Time{}, fmt.Errorf("no number %d (last %d): %w", v, last, ctx.Err())
		}
	}
}

// forget drops the arrivals of the numbers below v.
func (n *numbered) forget(v uint64) {
	n.mu.Lock()
	defer n.mu.Unlock()
	v = min(v, n.last+1) // at covers from..last
	if v <= n.from {
		return
	}
	drop := min(v-n.from, uint64(len(n.at)))
	n.at = append(n.at[:0], n.at[drop:]...)
	n.from = v
}

// failed returns the stream's error: a gap, a repeat, a garbled line or
// the end of the connection.
func (n *numbered) failed() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.err
}
