package supervisor

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/migrate-run/migrate/contstore"
)

// The admin suspend and resume replies carry the steps of that one
// operation: a suspend its app_suspend and the commit inside it, a resume
// of a complete continuation its launch and notified, each a positive
// duration no longer than what the caller waited.
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
	checkStages(t, "suspend", r.stages, r.took, StageAppSuspend, StageCommit)
	if r.stages[StageCommit] > r.stages[StageAppSuspend] {
		t.Errorf("suspend stages %v: the commit is part of app_suspend", r.stages)
	}

	start := time.Now()
	res, err := ac.Resume(ctx, cont)
	took := time.Since(start)
	if err != nil || res.PID == 0 {
		t.Fatalf("Resume: %+v, %v", res, err)
	}
	app.expect("resumed")
	checkStages(t, "resume", res.Stages, took, StageLaunch, StageNotified)
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
