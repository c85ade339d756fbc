package supervisor

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/migrate-run/migrate/contstore"
	"github.com/migrate-run/migrate/proto"
)

// The admin suspend and resume replies carry the steps of that one
// operation: a suspend its app_suspend and the app_return and commit inside
// it, a resume of a complete continuation its launch and notified, and the
// app_start, app_requests and confirm_commit notified is made of; each a
// positive duration no longer than what the caller waited.
func TestAdminStages(t *testing.T) {
	h := newHarness(t, nil)
	app := h.startApp("staged")
	cl := dialApp(t, app.expect("listening")[0])
	sid := contstore.SessionID(atou(t, app.expect("registered")[1]))
	cl.expectRun(0, 2)
	ac, err := Dial(h.cfg.Socket)
	if err != nil {
		t.Fatal(err)
	}
	defer ac.Close()
	ctx := context.Background()

	type reply struct {
		ids    []contstore.ID
		stages StageTimes
		took   time.Duration
		err    error
	}
	done := make(chan reply, 1)
	go func() {
		start := time.Now()
		ids, st, err := ac.SuspendStages(ctx, sid)
		done <- reply{ids, st, time.Since(start), err}
	}()
	cont := contstore.ID(atou(t, app.expect("acked")[1]))
	app.proceed()
	r := <-done
	if r.err != nil || len(r.ids) != 1 || r.ids[0] != cont {
		t.Fatalf("SuspendStages: %v, %v; want [%v]", r.ids, r.err, cont)
	}
	checkStages(t, "suspend", r.stages, r.took, StageAppSuspend, StageAppReturn, StageCommit)
	if r.stages[StageAppReturn]+r.stages[StageCommit] > r.stages[StageAppSuspend] {
		t.Errorf("suspend stages %v: app_return and the commit are parts of app_suspend", r.stages)
	}

	start := time.Now()
	res, err := ac.Resume(ctx, cont)
	took := time.Since(start)
	if err != nil || res.PID == 0 {
		t.Fatalf("Resume: %+v, %v", res, err)
	}
	app.expect("resumed")
	checkResumeStages(t, res.Stages, took)
	cl.expectRun(2, 1)
}

// checkResumeStages checks the stages of a complete resume: all present,
// notified the sum of its three steps (each rounded down to a microsecond
// on the wire, so up to 2 µs more).
func checkResumeStages(t *testing.T, st StageTimes, took time.Duration) {
	t.Helper()
	t.Logf("resume stages %v, the caller waited %v", st, took)
	checkStages(t, "resume", st, took, StageLaunch, StageNotified, StageAppStart, StageAppRequests, StageConfirmCommit)
	parts := st[StageAppStart] + st[StageAppRequests] + st[StageConfirmCommit]
	if d := st[StageNotified] - parts; d < 0 || d > 2*time.Microsecond {
		t.Errorf("resume stages %v: notified is not app_start + app_requests + confirm_commit (%v)", st, parts)
	}
}

// A fresh process may confirm, and its Resumed be committed, before
// launcher.Start has returned to the supervisor's launch: the resume still
// reports every stage, notified from the moment Start returned. The test
// holds the launch between Start and the registration of the pid until the
// process has confirmed.
func TestResumeStagesConfirmBeforeLaunch(t *testing.T) {
	h := newHarness(t, nil)
	app := h.startApp("early")
	cl := dialApp(t, app.expect("listening")[0])
	sid := contstore.SessionID(atou(t, app.expect("registered")[1]))
	cl.expectRun(0, 2)
	done := make(chan error, 1)
	go func() {
		_, err := h.s.Suspend(context.Background(), sid, proto.ReasonOperator)
		done <- err
	}()
	cont := contstore.ID(atou(t, app.expect("acked")[1]))
	app.proceed()
	if err := <-done; err != nil {
		t.Fatalf("Suspend: %v", err)
	}

	// The hook runs in Resume's goroutine, this test's.
	var confirmed string
	h.s.launches.started = func(int) {
		timeout := time.After(20 * time.Second)
		for confirmed == "" {
			select {
			case line, ok := <-app.lines:
				if !ok {
					return
				}
				if strings.HasPrefix(line, "resumed ") {
					confirmed = line
				}
			case <-timeout:
				return
			}
		}
	}
	defer func() { h.s.launches.started = nil }()
	rec := newStageRecorder()
	start := time.Now()
	if _, err := h.s.Resume(withStages(context.Background(), rec), cont); err != nil {
		t.Fatalf("Resume: %v", err)
	}
	took := time.Since(start)
	if confirmed == "" {
		t.Fatal("the fresh process did not confirm while its launch was held")
	}
	checkResumeStages(t, rec.times(), took)
	cl.expectRun(2, 1)
}

// checkStages checks that st has exactly the stages want, each positive and
// no longer than the caller's wait.
func checkStages(t *testing.T, op string, st StageTimes, took time.Duration, want ...string) {
	t.Helper()
	if len(st) != len(want) {
		t.Errorf("%s stages %v, want %v", op, st, want)
	}
	for _, k := range want {
		if d, ok := st[k]; !ok || d <= 0 || d > took {
			t.Errorf("%s stage %s = %v (present %v), want in (0, %v]", op, k, d, ok, took)
		}
	}
}

// StageTimes travel as whole microseconds by name, and read back the same.
func TestStageTimesJSON(t *testing.T) {
	st := StageTimes{StageAppSuspend: 1234567 * time.Nanosecond, StageCommit: 300 * time.Microsecond}
	b, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"app_suspend":1234,"commit":300}`; string(b) != want {
		t.Fatalf("marshal: %s, want %s", b, want)
	}
	var back StageTimes
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back[StageAppSuspend] != 1234*time.Microsecond || back[StageCommit] != 300*time.Microsecond || len(back) != 2 {
		t.Fatalf("unmarshal: %v", back)
	}
	var none struct{ Stages StageTimes }
	if err := json.Unmarshal([]byte(`{"stages": null}`), &none); err != nil || none.Stages != nil {
		t.Fatalf("null stages: %v, %v", none.Stages, err)
	}
}
