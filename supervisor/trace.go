package supervisor

import (
	"context"
	"encoding/json"
	"sync"
	"time"
)

// stage names a step of suspend and resume whose duration tests and
// benchmarks measure through Supervisor.onStage, and callers through
// WithStages.
type stage int

const (
	stageAppSuspend    stage = iota // SuspendRequest sent → its ReturnCont committed
	stageCommit                     // contstore.Put of a continuation
	stageLaunch                     // launcher.Start of a fresh process
	stageNotified                   // fresh process started → its Resumed committed
	stageAppReturn                  // SuspendRequest sent → its ReturnCont received
	stageAppStart                   // fresh process started → its first request received
	stageAppRequests                // that first request → its Resumed received
	stageConfirmCommit              // Resumed received → the store committed it
)

// Stage names, the keys of Stages and of the admin replies' "stages". A
// suspend is app_suspend, made of app_return, then the supervisor's own
// work on the continuation, of which commit; a resume of a complete
// continuation is launch, then notified, made of app_start, app_requests
// and confirm_commit one after the other (they add up to it).
const (
	StageAppSuspend = "app_suspend" // SuspendRequest sent → the continuation committed
	StageCommit     = "commit"      // the store's write of the continuation (inside app_suspend)
	StageLaunch     = "launch"      // launcher.Start, until the fresh process's execve succeeded
	StageNotified   = "notified"    // launch returned → the store committed the process's Resumed

	StageAppReturn     = "app_return"     // SuspendRequest sent → its ReturnCont received (inside app_suspend)
	StageAppStart      = "app_start"      // launch returned → the fresh process's first request received (inside notified)
	StageAppRequests   = "app_requests"   // that first request → its Resumed received (inside notified)
	StageConfirmCommit = "confirm_commit" // Resumed received → the store committed it, after the resume's own record of resuming (inside notified)
)

var stageNames = [...]string{
	stageAppSuspend:    StageAppSuspend,
	stageCommit:        StageCommit,
	stageLaunch:        StageLaunch,
	stageNotified:      StageNotified,
	stageAppReturn:     StageAppReturn,
	stageAppStart:      StageAppStart,
	stageAppRequests:   StageAppRequests,
	stageConfirmCommit: StageConfirmCommit,
}

func (st stage) String() string { return stageNames[st] }

// StageTimes are the measured steps of one suspend or resume, by stage name
// (StageAppSuspend, ...): a suspend has app_suspend, app_return and commit
// (app_return is absent for a ReturnCont the app sent on its own), a resume
// of a complete continuation launch, notified, app_start, app_requests and
// confirm_commit. A step not taken, or not measured, is absent. On the wire (the admin replies' "stages") each is a
// whole number of microseconds.
type StageTimes map[string]time.Duration

// MarshalJSON writes the stages as name → microseconds.
func (t StageTimes) MarshalJSON() ([]byte, error) {
	us := make(map[string]int64, len(t))
	for k, d := range t {
		us[k] = d.Microseconds()
	}
	return json.Marshal(us)
}

// UnmarshalJSON reads name → microseconds.
func (t *StageTimes) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	var us map[string]int64
	if err := json.Unmarshal(b, &us); err != nil {
		return err
	}
	*t = make(StageTimes, len(us))
	for k, v := range us {
		(*t)[k] = time.Duration(v) * time.Microsecond
	}
	return nil
}

// stageRecorder collects the stages of one operation; the steps of a
// resume are measured by two goroutines (the launch and the fresh
// process's Resumed), possibly at once.
type stageRecorder struct {
	mu sync.Mutex
	t  StageTimes
}

func newStageRecorder() *stageRecorder { return &stageRecorder{t: StageTimes{}} }

func (r *stageRecorder) add(st stage, d time.Duration) {
	if r == nil {
		return
	}
	r.mu.Lock()
	r.t[st.String()] = d
	r.mu.Unlock()
}

// times returns a copy of what was recorded.
func (r *stageRecorder) times() StageTimes {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(StageTimes, len(r.t))
	for k, d := range r.t {
		out[k] = d
	}
	return out
}

type stagesKey struct{}

// withStages returns a context under which Suspend and Resume record the
// stages of the session's own suspend (not its dependents') or of the
// resume in r.
func withStages(ctx context.Context, r *stageRecorder) context.Context {
	return context.WithValue(ctx, stagesKey{}, r)
}

// stagesOf returns the recorder of ctx, nil for none.
func stagesOf(ctx context.Context) *stageRecorder {
	r, _ := ctx.Value(stagesKey{}).(*stageRecorder)
	return r
}

// stage reports a measured step to the operation's recorder r (nil: none)
// and to the test hook, if any.
func (s *Supervisor) stage(r *stageRecorder, st stage, d time.Duration) {
	r.add(st, d)
	if s.onStage != nil {
		s.onStage(st, d)
	}
}

// resumeClock holds the instants of one complete resume that its launch
// and notified stages are measured between. The launch and the fresh
// process's Resumed run in two goroutines, and either may end first (the
// process can confirm before launcher.Start has returned to the
// supervisor): each records its part, and the second to do so reports the
// stages. Guarded by Supervisor.mu.
type resumeClock struct {
	stages    *stageRecorder // the caller's (withStages), nil for none
	launched  time.Time      // launcher.Start returned: the process runs
	first     time.Time      // the confirming connection's first request received
	confirm   time.Time      // its Resumed received
	committed time.Time      // the store committed the resume
}

// launchDone records that the fresh process started at launched, and
// reports the stages if it confirmed already. The caller holds s.mu.
func (s *Supervisor) launchDone(k *resumeClock, launched time.Time) {
	k.launched = launched
	if !k.committed.IsZero() {
		s.notifiedStages(k)
	}
}

// confirmDone records that the fresh process's Resumed, received at
// confirm on a connection whose first request came at first, was committed
// at committed, and reports the stages if the launch has returned. The
// caller holds s.mu.
func (s *Supervisor) confirmDone(k *resumeClock, first, confirm, committed time.Time) {
	k.first, k.confirm, k.committed = first, confirm, committed
	if !k.launched.IsZero() {
		s.notifiedStages(k)
	}
}

// notifiedStages reports notified and the three steps it is made of. An
// instant that precedes the one before it (a request received before
// launcher.Start returned to the supervisor) counts as that one, so the
// steps are never negative and add up to notified.
func (s *Supervisor) notifiedStages(k *resumeClock) {
	t0 := k.launched
	t1 := later(k.first, t0)
	t2 := later(k.confirm, t1)
	t3 := later(k.committed, t2)
	s.stage(k.stages, stageAppStart, t1.Sub(t0))
	s.stage(k.stages, stageAppRequests, t2.Sub(t1))
	s.stage(k.stages, stageConfirmCommit, t3.Sub(t2))
	s.stage(k.stages, stageNotified, t3.Sub(t0))
}

// later returns t, or notBefore when t precedes it.
func later(t, notBefore time.Time) time.Time {
	if t.Before(notBefore) {
		return notBefore
	}
	return t
}
