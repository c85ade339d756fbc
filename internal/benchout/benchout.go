// Package benchout is the hand-off between the report benchmarks (the
// BenchmarkReport* functions in tests/ and elsewhere) and the report
// generator (internal/benchreport) that turns their results into
// docs/bench.md and the plots under docs/bench/.
//
// A report benchmark measures one section of the report and, when
// MIGRATE_BENCH_OUT names a directory, writes its result there as
// <section>.json with Write. Without MIGRATE_BENCH_OUT, Write does nothing:
// the benchmarks still run and log their numbers under plain `go test
// -bench`. MIGRATE_BENCH_QUICK=1 asks for the short version run by CI
// (`make bench-quick`): fewer cycles and smaller sizes, same code paths.
//
// All durations in these types are milliseconds (float64), all sizes bytes.
package benchout

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// Environment variables read by the report benchmarks.
const (
	EnvOut   = "MIGRATE_BENCH_OUT"   // directory the results are written to
	EnvQuick = "MIGRATE_BENCH_QUICK" // "1": the short version (CI)
)

// Section names: the file name (without .json) each result is written to.
const (
	SectionStagesCounter = "stages-counter" // Stages, counter-server
	SectionStagesRshell  = "stages-rshell"  // Stages, rshell-server
	SectionScale         = "scale"          // Scale
	SectionCapacity      = "capacity"       // Capacity
	SectionDescriptors   = "descriptors"    // Descriptors
	SectionPeerCRIU      = "peer-criu"      // CRIU
	SectionPeerRestart   = "peer-restart"   // PlainRestart
	SectionPeerLoad      = "peer-load"      // RestartLoad
	SectionFloor         = "floor"          // Floor
)

// Quick reports whether the short version was asked for.
func Quick() bool { return os.Getenv(EnvQuick) == "1" }

// Pick returns quick under MIGRATE_BENCH_QUICK=1 and full otherwise.
func Pick[T any](full, quick T) T {
	if Quick() {
		return quick
	}
	return full
}

// Write stores v as <section>.json in MIGRATE_BENCH_OUT; without it, it
// does nothing and returns nil.
func Write(section string, v any) error {
	dir := os.Getenv(EnvOut)
	if dir == "" {
		return nil
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("benchout: %s: %w", section, err)
	}
	tmp := filepath.Join(dir, "."+section+".json.tmp")
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("benchout: %w", err)
	}
	return os.Rename(tmp, filepath.Join(dir, section+".json"))
}

// ErrMissing is returned by Read for a section that was not written.
var ErrMissing = errors.New("benchout: section not measured")

// Read loads <section>.json from dir into v; ErrMissing (wrapped) when the
// file does not exist.
func Read(dir, section string, v any) error {
	b, err := os.ReadFile(filepath.Join(dir, section+".json"))
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("%w: %s", ErrMissing, section)
	}
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("benchout: %s: %w", section, err)
	}
	return nil
}

// Dist summarises a set of measured durations, in milliseconds.
type Dist struct {
	N      int     `json:"n"`
	Median float64 `json:"median_ms"`
	P99    float64 `json:"p99_ms"`
	Mean   float64 `json:"mean_ms"`
	Min    float64 `json:"min_ms"`
	Max    float64 `json:"max_ms"`
}

// Summarize returns the distribution of d (nearest-rank percentiles). An
// empty d gives the zero Dist.
func Summarize(d []time.Duration) Dist {
	if len(d) == 0 {
		return Dist{}
	}
	s := slices.Clone(d)
	slices.Sort(s)
	var sum time.Duration
	for _, x := range s {
		sum += x
	}
	return Dist{
		N:      len(s),
		Median: Ms(rank(s, 50)),
		P99:    Ms(rank(s, 99)),
		Mean:   Ms(sum / time.Duration(len(s))),
		Min:    Ms(s[0]),
		Max:    Ms(s[len(s)-1]),
	}
}

func rank(sorted []time.Duration, p int) time.Duration {
	i := int(math.Ceil(float64(len(sorted)*p) / 100))
	return sorted[max(i-1, 0)]
}

// Ms converts a duration to float milliseconds.
func Ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// Stage keys, shared by Stages and Scale (the paper's Table IV names are
// the labels).
const (
	StageAppSuspend = "app_suspend" // suspend request sent → continuation committed and acknowledged
	StageCommit     = "commit"      // contstore.Put of the continuation (inside app suspend)
	StageLaunch     = "launch"      // resume: launch of the fresh process until its execve succeeded
	StageNotified   = "notified"    // fresh process started → it confirmed the resume (Resumed)
	StageRun        = "run"         // resume acknowledged → the client receives the next byte
	StageEndToEnd   = "end_to_end"  // suspend request → the client receives the next byte
	StageSuspend    = "suspend"     // admin suspend: request → acknowledged, seen by the caller
	StageResume     = "resume"      // admin resume: request → acknowledged, seen by the caller

	// Steps inside a stage, as the supervisor measures them (its admin
	// replies' stages of the same names): StageAppReturn is inside app
	// suspend, beside the commit; the other three follow one another
	// within notified and add up to it.
	StageAppReturn     = "app_return"     // suspend request sent → the app's ReturnCont received
	StageAppStart      = "app_start"      // launch returned → the fresh process's first request received
	StageAppRequests   = "app_requests"   // that first request → its Resumed received
	StageConfirmCommit = "confirm_commit" // Resumed received → the store committed the resume
)

// Stage is one measured stage.
type Stage struct {
	Key   string `json:"key"`   // one of the Stage* constants
	Label string `json:"label"` // human name, as in the report
	Dist  Dist   `json:"dist"`
}

// Stages is Table IV for one app: same-host suspend + resume cycles.
type Stages struct {
	App    string  `json:"app"`    // "counter-server", "rshell-server"
	Cycles int     `json:"cycles"` // suspend+resume cycles measured
	Stages []Stage `json:"stages"`
	// Profile, when set, is a CPU profile (pprof) of the supervisor over
	// the cycles, relative to MIGRATE_BENCH_OUT; ProfileTop is the head of
	// `go tool pprof -top` on it.
	Profile    string   `json:"profile,omitempty"`
	ProfileTop string   `json:"profile_top,omitempty"`
	Notes      []string `json:"notes,omitempty"`
}

// ScalePoint is one N of the scalability run.
type ScalePoint struct {
	N int `json:"n"` // sessions suspended, then resumed, all at once
	// Wall-clock time from the first suspend request until every
	// session was suspended, until every one was resumed (from the first
	// resume request), and until every client received its next byte
	// (from the first suspend request).
	SuspendAll float64 `json:"suspend_all_ms"`
	ResumeAll  float64 `json:"resume_all_ms"`
	Total      float64 `json:"total_ms"`
	// Average per session of each stage, keyed by Stage* constants.
	Avg    map[string]float64 `json:"avg_ms"`
	Failed int                `json:"failed"` // sessions whose stream broke
}

// Scale is Figs. 14/16: N simultaneous suspends and resumes.
type Scale struct {
	App        string       `json:"app"`
	Points     []ScalePoint `json:"points"`
	Profile    string       `json:"profile,omitempty"` // as in Stages, for the largest N
	ProfileTop string       `json:"profile_top,omitempty"`
	Notes      []string     `json:"notes,omitempty"`
}

// CapacityPoint is one size of the capacity run.
type CapacityPoint struct {
	Sessions     int     `json:"sessions"`       // suspended sessions held
	RSSBytes     int64   `json:"rss_bytes"`      // supervisor RSS with them held
	BaseRSSBytes int64   `json:"base_rss_bytes"` // supervisor RSS before the first
	StoreBytes   int64   `json:"store_bytes"`    // store file size
	List         Dist    `json:"list"`           // listing every continuation
	Get          Dist    `json:"get"`            // getting one continuation
	Restart      Dist    `json:"restart"`        // supervisor restart over the store until it answers
	FDs          int     `json:"fds"`            // descriptors the supervisor holds
	Fill         float64 `json:"fill_ms"`        // time to suspend all of them
	// The RSS growth (RSSBytes-BaseRSSBytes) split: anonymous memory
	// (RssAnon: heap, stacks) and file-backed pages (RssFile: the store's
	// pages bbolt maps); and the live heap after a GC (heap profile, the
	// fixed part included). Zero when not measured.
	AnonBytes int64 `json:"anon_bytes,omitempty"`
	FileBytes int64 `json:"file_bytes,omitempty"`
	HeapBytes int64 `json:"heap_bytes,omitempty"`
}

// Capacity is the held-sessions run at 1k, 10k, 100k.
type Capacity struct {
	Points     []CapacityPoint `json:"points"`
	Profile    string          `json:"profile,omitempty"` // heap profile at the largest size
	ProfileTop string          `json:"profile_top,omitempty"`
	Notes      []string        `json:"notes,omitempty"`
}

// DescApp is one app's row of Table III / Fig. 12.
type DescApp struct {
	App            string `json:"app"`
	Active         int    `json:"active"`          // descriptors of the serving process(es) for one session
	InContinuation int    `json:"in_continuation"` // slots in its continuation
	Held           int    `json:"held"`            // descriptors the supervisor holds after collapse
	RawBytes       int    `json:"raw_bytes"`       // continuation size, encoded, uncompressed
	Compressed     int    `json:"compressed_bytes"`
	Note           string `json:"note,omitempty"`
}

// Descriptors is Table III and Fig. 12.
type Descriptors struct {
	Apps  []DescApp `json:"apps"`
	Notes []string  `json:"notes,omitempty"`
}

// CRIU is the checkpoint/restore peer: dump + restore of counter-server
// with its live TCP connection.
type CRIU struct {
	Available bool   `json:"available"`
	Binary    string `json:"binary,omitempty"`
	Version   string `json:"version,omitempty"`
	// Check is what `criu check` printed when it failed (Available false),
	// and Reason a one-line explanation.
	Check     string   `json:"check,omitempty"`
	Reason    string   `json:"reason,omitempty"`
	Cycles    int      `json:"cycles"`
	Dump      Dist     `json:"dump"`
	Restore   Dist     `json:"restore"`
	EndToEnd  Dist     `json:"end_to_end"`  // dump start → the client receives the next byte
	ImageSize int64    `json:"image_bytes"` // images of one dump
	Survived  bool     `json:"survived"`    // the client's stream went on without gap or repeat
	Notes     []string `json:"notes,omitempty"`
}

// PlainRestart is counter-server restarted without continuations.
type PlainRestart struct {
	Cycles      int      `json:"cycles"`
	ClientSaw   string   `json:"client_saw"` // the error the client got
	Reconnect   Dist     `json:"reconnect"`  // kill → a new connection is served again
	LostNumbers int      `json:"lost_state"` // numbers restarted from 0 (state lost), per cycle
	Notes       []string `json:"notes,omitempty"`
}

// LoadRun is one tool's restart-under-load run.
type LoadRun struct {
	Tool     string `json:"tool"` // "systemd-socket-activate", "migrate-run --listen", "own port"
	Restarts int    `json:"restarts"`
	Conns    int    `json:"connections"` // connections attempted
	Served   int    `json:"served"`
	Refused  int    `json:"refused"`
	Restart  Dist   `json:"restart"` // restart request → the server accepts again
	Notes    string `json:"note,omitempty"`
}

// RestartLoad compares restarts under load.
type RestartLoad struct {
	Clients int       `json:"clients"`
	Runs    []LoadRun `json:"runs"`
	Notes   []string  `json:"notes,omitempty"`
}

// FloorRow is one physical-floor measurement.
type FloorRow struct {
	Key   string `json:"key"` // fork_exec_static, scm_rights_1, scm_rights_64, fsync_4k, bbolt_commit, go_start
	Label string `json:"label"`
	Dist  Dist   `json:"dist"`
}

// Floor keys.
const (
	FloorForkExec   = "fork_exec_static"
	FloorSCM1       = "scm_rights_1"
	FloorSCM64      = "scm_rights_64"
	FloorFsync4K    = "fsync_4k"
	FloorBoltCommit = "bbolt_commit"
	FloorGoStart    = "go_start" // fork+exec of the smallest Go binary
)

// Floor is the physical floor of this machine.
type Floor struct {
	Rows []FloorRow `json:"rows"`
}
