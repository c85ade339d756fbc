package tests

import (
	"context"
	"slices"
	"testing"
	"time"
)

// BenchmarkSuspendResumeLatency measures same-host suspend+resume of
// counter-server's complete continuation end to end, over at least 100
// cycles (b.N when larger), as a user sees it:
//
//	suspend   admin suspend sent → acknowledged (app built the continuation,
//	          the supervisor committed it)
//	resume    admin resume sent → acknowledged (fresh process launched,
//	          retrieved its store and confirmed)
//	first     resume acknowledged → the client receives the next number
//	total     suspend sent → the client receives the next number
//
// It reports the median and p99 of each in ms. BenchmarkReportStagesCounter
// measures the same cycle for the report, with the supervisor's own stages
// (app suspend, commit, launch, notified) that its admin replies carry.
//
//	go test -run '^$' -bench SuspendResumeLatency -benchtime 200x ./tests/
func BenchmarkSuspendResumeLatency(b *testing.B) {
	d := startDaemon(b)
	_, addr := d.counterApp("counter", time.Millisecond)
	s := dialStream(b, addr)
	sess := d.waitSessions(1)[0].ID
	ac := d.admin()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if _, _, err := s.waitPast(ctx, 10); err != nil {
		b.Fatal(err)
	}

	cycles := max(b.N, 100)
	var suspend, resume, first, total []time.Duration
	b.ResetTimer()
	for range cycles {
		last, _, _ := s.state()
		t0 := time.Now()
		ids, err := ac.Suspend(ctx, sess)
		if err != nil || len(ids) != 1 {
			b.Fatalf("suspend: %v %v", ids, err)
		}
		t1 := time.Now()
		if _, err := ac.Resume(ctx, ids[0]); err != nil {
			b.Fatalf("resume: %v", err)
		}
		t2 := time.Now()
		_, at, err := s.waitPast(ctx, last)
		if err != nil {
			b.Fatal(err)
		}
		// A number may arrive from the fresh process before the resume's
		// acknowledgement reaches us: then "first" is 0.
		suspend, resume = append(suspend, t1.Sub(t0)), append(resume, t2.Sub(t1))
		first, total = append(first, max(at.Sub(t2), 0)), append(total, max(at.Sub(t0), t2.Sub(t0)))
	}
	b.StopTimer()
	for _, m := range []struct {
		name string
		d    []time.Duration
	}{{"suspend", suspend}, {"resume", resume}, {"first", first}, {"total", total}} {
		med, p99 := percentile(m.d, 50), percentile(m.d, 99)
		b.ReportMetric(ms(med), m.name+"-p50-ms")
		b.ReportMetric(ms(p99), m.name+"-p99-ms")
		b.Logf("%-8s median %6.2f ms  p99 %6.2f ms  (%d cycles)", m.name, ms(med), ms(p99), len(m.d))
	}
	if _, _, err := s.state(); err != nil {
		b.Errorf("the client's stream: %v", err)
	}
}

// percentile returns the p-th percentile of d (nearest rank).
func percentile(d []time.Duration, p int) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	i := (len(s)*p + 99) / 100
	return s[max(i-1, 0)]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
