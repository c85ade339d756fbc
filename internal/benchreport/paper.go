package main

import (
	"slices"

	"github.com/migrate-run/migrate/internal/benchout"
)

// The paper's numbers (Snoeren et al., "Suspending and Resuming Network
// Applications using Session Continuations"), as the report quotes them.

// paperStageCol is one same-host column of the paper's Table IV, in ms,
// keyed by our stage keys where the stages correspond.
type paperStageCol struct {
	Name   string
	Stages map[string]float64
}

// paperTableIV maps our app to the paper's same-host column it stands in
// for: counter-server is the paper's client-server benchmark, rshell-server
// its SSHD.
var paperTableIV = map[string]paperStageCol{
	"counter-server": {Name: "benchmark", Stages: map[string]float64{
		benchout.StageAppSuspend: 0.27,
		benchout.StageNotified:   54.23,
		benchout.StageRun:        1.21,
		benchout.StageEndToEnd:   57,
	}},
	"rshell-server": {Name: "SSHD", Stages: map[string]float64{
		benchout.StageAppSuspend: 0.35,
		benchout.StageNotified:   56.66,
		benchout.StageRun:        1.23,
		benchout.StageEndToEnd:   61,
	}},
}

// stageInfo describes a stage key: the paper's name for it and what it
// spans here.
type stageInfo struct {
	Label string // our name for it, when the section gives none
	Paper string // Table IV's row, or "" when the paper does not split it out
	Spans string
}

// stageOrder is the order stages are presented in, each stage's steps
// (subStages) right after it; unknown keys follow.
var stageOrder = []string{
	benchout.StageAppSuspend, benchout.StageAppReturn, benchout.StageCommit, benchout.StageLaunch,
	benchout.StageNotified, benchout.StageAppStart, benchout.StageAppRequests, benchout.StageConfirmCommit,
	benchout.StageRun, benchout.StageEndToEnd,
	benchout.StageSuspend, benchout.StageResume,
}

// subStages are the steps inside a stage that the supervisor measures, in
// the order they happen: the report shows them under their stage, and
// names the costliest when it names the stage. The steps of notified add
// up to it; app suspend also spends time between its steps (describing
// and holding the descriptors, answering the app).
var subStages = map[string][]string{
	benchout.StageAppSuspend: {benchout.StageAppReturn, benchout.StageCommit},
	benchout.StageNotified:   {benchout.StageAppStart, benchout.StageAppRequests, benchout.StageConfirmCommit},
}

// parentStage returns the stage key is a step of, "" for none.
func parentStage(key string) string {
	for parent, subs := range subStages {
		if slices.Contains(subs, key) {
			return parent
		}
	}
	return ""
}

// subStageText says, for a missed target, what a step is ("of which …")
// and where its time is spent, so the reader knows which profile or floor
// explains it.
var subStageText = map[string]struct{ What, Where string }{
	benchout.StageAppReturn: {"the app's answer, from the suspend request until its continuation arrived",
		"in the app (it builds and sends its continuation) and the socket round trip, outside migrated: its CPU profile does not show it"},
	benchout.StageCommit: {"the continuation's bbolt commit",
		"in the store's fsyncs: migrated waits in the kernel, which its CPU profile shows as syscalls at most"},
	benchout.StageAppStart: {"the fresh process's start until its first request",
		"in the fresh process (the kernel's exec, the Go runtime's start, the library's dial and Hello), outside migrated: " +
			"its CPU profile does not show it; the Go start floor is the same start for the smallest Go binary"},
	benchout.StageAppRequests: {"the fresh process's requests until it confirmed",
		"in the round trips of the fresh process's Retrieve, GetSession and Resumed; migrated's share of them shows in its CPU profile"},
	benchout.StageConfirmCommit: {"the store's commit of the confirmed resume",
		"in the store's fsyncs (after the resume's own record of resuming, committed while the process started): " +
			"migrated waits in the kernel, which its CPU profile shows as syscalls at most"},
}

var stageInfos = map[string]stageInfo{
	benchout.StageAppSuspend:    {"app suspend", "Appl. Suspend", "suspend request sent → continuation committed and acknowledged"},
	benchout.StageAppReturn:     {"app return", "", "suspend request sent → the app's continuation received (inside app suspend)"},
	benchout.StageCommit:        {"commit", "", "the continuation's bbolt commit (inside app suspend)"},
	benchout.StageLaunch:        {"resume launch", "", "launch of the fresh process until its execve succeeded (inside Appl. Notification in the paper)"},
	benchout.StageNotified:      {"app notified", "Appl. Notification", "launch returned → the fresh process's confirmation committed"},
	benchout.StageAppStart:      {"fresh process start", "", "launch returned → the fresh process's first request received (its runtime's start)"},
	benchout.StageAppRequests:   {"fresh process requests", "", "that first request → its confirmation (Resumed) received"},
	benchout.StageConfirmCommit: {"confirm commit", "", "confirmation received → the store committed the resume"},
	benchout.StageRun:           {"continuation run", "Appl. Continuation", "resume acknowledged → the client receives the next byte"},
	benchout.StageEndToEnd:      {"end to end", "End-to-End Latency", "suspend request → the client receives the next byte"},
	benchout.StageSuspend:       {"suspend (admin)", "", "admin suspend: request → acknowledged, as the caller sees it"},
	benchout.StageResume:        {"resume (admin)", "", "admin resume: request → acknowledged, as the caller sees it"},
}

// topLevelStages are the stages that follow one another within an end to
// end suspend + resume (commit is inside app suspend; suspend and resume
// are the caller's view of the same work): the candidates for "the stage
// that costs the most".
var topLevelStages = []string{
	benchout.StageAppSuspend, benchout.StageLaunch, benchout.StageNotified, benchout.StageRun,
}

// Other figures the report quotes.
const (
	paperEndToEndMs    = 57.0   // Table IV, benchmark server, same host
	paperScaleSessions = 64     // Fig. 16: 64 simultaneous SSH continuations…
	paperScaleMs       = 1500.0 // …within 1.5 s
	paperSSHActive     = 12     // Table III, OpenSSH with Migrate
	paperSSHInCont     = 8      // descriptors in the continuation
	paperSSHHeld       = 3      // held after collapse
	paperSSHRawBytes   = 3600   // Fig. 12: 3.6 KB complete continuation
)

// floorParts says which floor rows bound a stage: the stage cannot be
// faster on this machine than the sum of their medians. A row named twice
// counts twice: app notified ends with the store's commit of the
// confirmed resume, so a suspend + resume commits twice on its way (the
// resume's own record of resuming overlaps the launch).
var floorParts = map[string][]string{
	benchout.StageAppSuspend: {benchout.FloorSCM1, benchout.FloorBoltCommit},
	benchout.StageSuspend:    {benchout.FloorSCM1, benchout.FloorBoltCommit},
	benchout.StageCommit:     {benchout.FloorBoltCommit},
	benchout.StageLaunch:     {benchout.FloorForkExec},
	benchout.StageNotified:   {benchout.FloorGoStart, benchout.FloorBoltCommit},
	benchout.StageResume:     {benchout.FloorGoStart, benchout.FloorBoltCommit},
	benchout.StageEndToEnd:   {benchout.FloorSCM1, benchout.FloorBoltCommit, benchout.FloorGoStart, benchout.FloorBoltCommit},

	benchout.StageAppReturn:     {benchout.FloorSCM1},
	benchout.StageAppStart:      {benchout.FloorGoStart},
	benchout.StageConfirmCommit: {benchout.FloorBoltCommit},
}
