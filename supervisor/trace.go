package supervisor

import "time"

// stage names a step of suspend and resume whose duration tests and
// benchmarks measure through Supervisor.onStage.
type stage int

const (
	stageAppSuspend stage = iota // SuspendRequest sent → its ReturnCont committed
	stageCommit                  // contstore.Put of a continuation
	stageLaunch                  // launcher.Start of a fresh process
	stageNotified                // fresh process started → its Resumed received
)

// stage reports a measured step to the test hook, if any.
func (s *Supervisor) stage(st stage, d time.Duration) {
	if s.onStage != nil {
		s.onStage(st, d)
	}
}
