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
	stageAppSuspend stage = iota // SuspendRequest sent → its ReturnCont committed
	stageCommit                  // contstore.Put of a continuation
	stageLaunch                  // launcher.Start of a fresh process
	stageNotified                // fresh process started → its Resumed received
)

// Stage names, the keys of Stages and of the admin replies' "stages".
const (
	StageAppSuspend = "app_suspend"
	StageCommit     = "commit"
	StageLaunch     = "launch"
	StageNotified   = "notified"
)

var stageNames = [...]string{
	stageAppSuspend: StageAppSuspend,
	stageCommit:     StageCommit,
	stageLaunch:     StageLaunch,
	stageNotified:   StageNotified,
}

func (st stage) String() string { return stageNames[st] }

// StageTimes are the measured steps of one suspend or resume, by stage name
// (StageAppSuspend, ...): a suspend has app_suspend and commit, a resume of
// a complete continuation launch and notified. A step not taken, or not
// measured, is absent. On the wire (the admin replies' "stages") each is a
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
