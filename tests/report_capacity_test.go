package tests

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/sys/unix"

	"github.com/migrate-run/migrate/contstore"
	"github.com/migrate-run/migrate/internal/benchout"
	"github.com/migrate-run/migrate/supervisor"
)

// BenchmarkReportCapacity is the report's capacity section: one real
// migrated holding 1,000, 10,000 and 100,000 suspended sessions (quick:
// 1,000), one migrated per size. Each session is real
// (tests/internal/sessionfill): a loopback TCP connection registered with
// GetSession and suspended by ReturnCont as a complete continuation, whose
// server end the supervisor then holds. Per size it measures the
// supervisor's RSS before the first session, with all of them held, and
// after a forced GC (with a heap profile), its open descriptors, the store
// file, the time to fill, to list every continuation and to show one with
// migratectl (as a user would), and the time to restart migrated over the
// store until it answers. A restart cannot keep the held connections: they
// die with the process that held them, and the restarted supervisor marks
// every continuation lost, which the benchmark checks.
//
// migrated holds one descriptor per held session, so a size needs
// RLIMIT_NOFILE above it. The benchmark raises migrated's limit to
// fs.nr_open where it may (CAP_SYS_RESOURCE); where it may not, a size
// the hard limit cannot hold is replaced by the largest thousand that fits,
// and the report's notes say so.
//
// The target (at most 2 KiB of supervisor memory per held session) is
// judged on the whole RSS growth per held session, anonymous and
// file-backed: the store's pages that bbolt maps are resident in migrated,
// counted in its RSS and charged to its cgroup, even though the kernel may
// reclaim them (they are clean page cache). Each point also records the
// split and the live heap, and the notes give the anonymous part alone.
// migrated runs with the GOGC of the benchmark's environment (Go's default,
// 100, when unset), which the notes name: the anonymous memory settles
// near (1 + GOGC/100) times the live heap.
//
//	go test -run '^$' -bench ReportCapacity -benchtime 1x ./tests/
func BenchmarkReportCapacity(b *testing.B) {
	var out benchout.Capacity
	gc := "GOGC=100, Go's default and migrated's"
	if v := os.Getenv("GOGC"); v != "" {
		gc = "GOGC=" + v + " from the environment"
	}
	heap := newHeapProfile(b)
	limit, why := nofileLimit(b)
	fits := (limit - capFDMargin) / 1000 * 1000
	for _, n := range benchout.Pick([]int{1000, 10000, 100000}, []int{1000}) {
		if n > fits {
			out.Notes = append(out.Notes, fmt.Sprintf("%d held sessions not run: %s; the largest size run is the largest thousand under it, %d.", n, why, fits))
			if len(out.Points) > 0 && out.Points[len(out.Points)-1].Sessions >= fits {
				break
			}
			n = fits
		}
		pt, x := capacityAt(b, n, limit, heap)
		b.Logf("%d held: fill %.0f ms, RSS %d → %d KiB (%.0f B/session: %.0f anonymous, %.0f the store's mapped file; live heap %.0f B/session), %d fds, store %d B (%.0f B/cont), list %.1f ms, show %.1f ms, restart %.1f ms",
			n, pt.Fill, pt.BaseRSSBytes>>10, pt.RSSBytes>>10, perSession(pt.RSSBytes-pt.BaseRSSBytes, n), perSession(x.anon, n), perSession(x.file, n),
			perSession(x.live, n), pt.FDs, pt.StoreBytes, perSession(pt.StoreBytes, n), pt.List.Median, pt.Get.Median, pt.Restart.Median)
		out.Notes = append(out.Notes, fmt.Sprintf("At %d held: RSS grew by %.0f B per held session (what the target is judged on), %.0f B of it anonymous (RssAnon: heap, stacks) and %.0f B the store's pages mapped by bbolt (RssFile: page cache, resident and charged to the supervisor, which the kernel can reclaim); the live heap after a GC (heap profile) is %.0f B per held session, the fixed part (zstd encoders, connection buffers) included: the rest of the anonymous memory is the garbage collector's headroom (%s; migrated --gc-percent lowers it for more collector CPU) and the fill's garbage.",
			n, perSession(pt.RSSBytes-pt.BaseRSSBytes, n), perSession(x.anon, n), perSession(x.file, n), perSession(x.live, n), gc))
		out.Notes = append(out.Notes, fmt.Sprintf("At %d held: the store file is %d B; its pages hold %.0f B per continuation of records and indexes, in %.0f B of pages per continuation (bbolt leaves pages half full when keys come in order), and the file grows in steps.",
			n, pt.StoreBytes, perSession(x.pages.inuse, n), perSession(x.pages.alloc, n)))
		out.Points = append(out.Points, pt)
	}
	if k := len(out.Points); k >= 2 {
		p, q := out.Points[k-2], out.Points[k-1]
		added := q.Sessions - p.Sessions
		out.Notes = append(out.Notes, fmt.Sprintf("From %d to %d held, RSS grew by %.0f B per added session (the fixed part left out): %.0f B anonymous, %.0f B the store's mapped pages; the live heap grew by %.0f B per added session.",
			p.Sessions, q.Sessions, perSession(q.RSSBytes-q.BaseRSSBytes-(p.RSSBytes-p.BaseRSSBytes), added),
			perSession(q.AnonBytes-p.AnonBytes, added), perSession(q.FileBytes-p.FileBytes, added), perSession(q.HeapBytes-p.HeapBytes, added)))
	}
	out.Profile, out.ProfileTop = heap.finish(b)
	out.Notes = append(out.Notes,
		"Each held session is a loopback TCP connection, suspended as a complete continuation (the connection, one stored number, the driver's exec description) by tests/internal/sessionfill over 32 control connections at once; fill is dial, accept, GetSession and ReturnCont of every session.",
		"Restart: SIGTERM, then a fresh migrated over the same store until it answers stats. The held connections die with the old process (their clients see them close); the new one marks every continuation lost (it keeps only those whose descriptors are all regular files it can reopen by path).")
	if err := benchout.Write(benchout.SectionCapacity, out); err != nil {
		b.Fatal(err)
	}
}

// capFDMargin is what migrated and the driver need besides one descriptor
// per held session: their own, the driver's listeners and control
// connections, the sessions in flight.
const capFDMargin = 500

func perSession(v int64, n int) float64 { return float64(v) / float64(n) }

// nofileLimit is the RLIMIT_NOFILE migrated gets: fs.nr_open where the
// benchmark may raise it (CAP_SYS_RESOURCE), the inherited hard limit
// otherwise, with why when that is all.
func nofileLimit(b *testing.B) (int, string) {
	nrOpen := procInt(b, "/proc/sys/fs/nr_open")
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		b.Fatal(err)
	}
	if lim.Max >= uint64(nrOpen) || hasCap(b, unix.CAP_SYS_RESOURCE) {
		return nrOpen, ""
	}
	return int(lim.Max), fmt.Sprintf("migrated holds one descriptor per held session, and its RLIMIT_NOFILE cannot pass the hard limit of %d here (no CAP_SYS_RESOURCE to raise it to fs.nr_open, %d)", lim.Max, nrOpen)
}

func procInt(b *testing.B, path string) int {
	raw, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(raw)))
	if err != nil {
		b.Fatalf("%s: %v", path, err)
	}
	return n
}

// hasCap reports whether the test runs with capability c effective.
func hasCap(b *testing.B, c int) bool {
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		b.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^CapEff:\s+([0-9a-f]+)$`).FindSubmatch(raw)
	if m == nil {
		return false
	}
	eff, _ := strconv.ParseUint(string(m[1]), 16, 64)
	return eff&(1<<uint(c)) != 0
}

// capDetail is what a size measured beside its point: growths of
// migrated's anonymous and file-backed resident memory, its live heap with
// the sessions held, and the store's page use once it stopped.
type capDetail struct {
	anon, file, live int64
	pages            pageUse
}

// capacityAt measures one size with a migrated of its own.
func capacityAt(b *testing.B, n, limit int, heap *heapProfile) (benchout.CapacityPoint, capDetail) {
	d := startDaemon(b, "--log-level", "info", "--memprofile", heap.path)
	raiseNofile(b, d.pid(), limit)
	f := startFiller(b, d, 32)
	pt := benchout.CapacityPoint{Sessions: n, BaseRSSBytes: procBytes(b, d.pid(), "VmRSS")}
	var x capDetail
	baseAnon, baseFile := procBytes(b, d.pid(), "RssAnon"), procBytes(b, d.pid(), "RssFile")
	baseFDs := fdCount(b, d.pid())

	start := time.Now()
	f.fill(n)
	pt.Fill = benchout.Ms(time.Since(start))
	pt.RSSBytes = procBytes(b, d.pid(), "VmRSS")
	x.anon, x.file = procBytes(b, d.pid(), "RssAnon")-baseAnon, procBytes(b, d.pid(), "RssFile")-baseFile
	pt.FDs = fdCount(b, d.pid()) - baseFDs
	st := capStats(b, d)
	if got := st.ByState[contstore.StateSuspended]; got != n || st.HeldAfter != n || pt.FDs != n {
		b.Fatalf("after filling %d: %d suspended, %d descriptors held, %d more open (stats %+v)", n, got, st.HeldAfter, pt.FDs, st)
	}
	pt.StoreBytes = fileSize(b, filepath.Join(d.state, supervisor.StoreFile))
	heap.take(b, d)
	x.live = heap.inUse(b)
	pt.AnonBytes, pt.FileBytes, pt.HeapBytes = x.anon, x.file, x.live

	ids := capList(b, d, n, &pt)
	capShow(b, d, ids, &pt)
	pt.Restart = capRestart(b, d, f, n)
	if err := d.stop(); err != nil {
		b.Fatal(err)
	}
	x.pages = storePages(b, filepath.Join(d.state, supervisor.StoreFile))
	return pt, x
}

// pageUse is what a store's buckets take in its pages: bytes in use and
// bytes of the pages they occupy.
type pageUse struct{ inuse, alloc int64 }

// storePages reads the page use of a store no process has open.
func storePages(b *testing.B, path string) pageUse {
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: 10 * time.Second})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	var u pageUse
	err = db.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(_ []byte, bk *bolt.Bucket) error {
			st := bk.Stats()
			u.inuse += int64(st.LeafInuse + st.BranchInuse + st.InlineBucketInuse)
			u.alloc += int64(st.LeafAlloc + st.BranchAlloc)
			return nil
		})
	})
	if err != nil {
		b.Fatal(err)
	}
	return u
}

// heapTotal reads the in-use total from go tool pprof -top's header
// ("Showing nodes accounting for X, 100% of 32959.61kB total").
func heapTotal(top string) int64 {
	m := regexp.MustCompile(`of ([0-9.]+)([kMG]?B) total`).FindStringSubmatch(top)
	if m == nil {
		return 0
	}
	v, _ := strconv.ParseFloat(m[1], 64)
	return int64(v * map[string]float64{"B": 1, "kB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30}[m[2]])
}

// capList times migratectl --json list of every continuation.
func capList(b *testing.B, d *daemon, n int, pt *benchout.CapacityPoint) []contstore.ID {
	runs := benchout.Pick(5, 3)
	if n >= 100000 {
		runs = 3
	}
	var times []time.Duration
	var ids []contstore.ID
	for range runs {
		start := time.Now()
		js, err := d.ctl("--json", "list")
		times = append(times, time.Since(start))
		if err != nil {
			b.Fatal(err)
		}
		var r struct{ Continuations []supervisor.ContInfo }
		if err := json.Unmarshal([]byte(js), &r); err != nil {
			b.Fatalf("migratectl --json list: %v", err)
		}
		if len(r.Continuations) != n {
			b.Fatalf("migratectl list: %d continuations, want %d", len(r.Continuations), n)
		}
		ids = ids[:0]
		for _, c := range r.Continuations {
			ids = append(ids, c.ID)
		}
	}
	pt.List = benchout.Summarize(times)
	return ids
}

// capShow times migratectl --json show of continuations spread over the
// store.
func capShow(b *testing.B, d *daemon, ids []contstore.ID, pt *benchout.CapacityPoint) {
	const runs = 20
	var times []time.Duration
	for i := range runs {
		id := ids[i*len(ids)/runs]
		start := time.Now()
		js, err := d.ctl("--json", "show", id.String())
		times = append(times, time.Since(start))
		if err != nil {
			b.Fatal(err)
		}
		var r struct{ Continuation supervisor.ContInfo }
		if err := json.Unmarshal([]byte(js), &r); err != nil || r.Continuation.ID != id || r.Continuation.State != contstore.StateSuspended {
			b.Fatalf("migratectl show %v: %v: %s", id, err, js)
		}
	}
	pt.Get = benchout.Summarize(times)
}

// capRestart stops migrated (SIGTERM) and starts it again over the same
// store, timing from the start until it answers stats; the n held
// continuations must be marked lost.
func capRestart(b *testing.B, d *daemon, f *filler, n int) benchout.Dist {
	if err := d.stop(); err != nil {
		b.Fatal(err)
	}
	f.wait() // migrated stopped it
	start := time.Now()
	d.startQuiet()
	took := time.Since(start)
	st := capStats(b, d)
	if got := st.ByState[contstore.StateLost]; got != n {
		b.Fatalf("after a restart over %d held continuations: %d lost (stats %+v)", n, got, st)
	}
	return benchout.Summarize([]time.Duration{took})
}

// startQuiet is start with a readiness poll of 1 ms instead of 20, so that
// the restart time is not rounded up to the poll.
func (d *daemon) startQuiet() {
	d.t.Helper()
	d.spawn()
	d.waitAnswer(5*time.Minute, time.Millisecond, time.Minute)
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

func capStats(b *testing.B, d *daemon) supervisor.Stats {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, err := d.admin().Stats(ctx)
	if err != nil {
		b.Fatal(err)
	}
	return st
}

// raiseNofile lifts pid's RLIMIT_NOFILE to limit (nofileLimit's) when
// that is above what it has.
func raiseNofile(b *testing.B, pid, limit int) {
	var cur unix.Rlimit
	if err := unix.Prlimit(pid, unix.RLIMIT_NOFILE, nil, &cur); err != nil {
		b.Fatal(err)
	}
	if cur.Cur >= uint64(limit) {
		return
	}
	lim := unix.Rlimit{Cur: uint64(limit), Max: max(cur.Max, uint64(limit))}
	if err := unix.Prlimit(pid, unix.RLIMIT_NOFILE, &lim, nil); err != nil {
		b.Fatalf("raise RLIMIT_NOFILE of migrated to %d: %v", limit, err)
	}
}

// procBytes is a "kB" field of /proc/pid/status (VmRSS, RssAnon,
// RssFile) in bytes.
func procBytes(b *testing.B, pid int, field string) int64 {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^` + field + `:\s+(\d+) kB$`).FindSubmatch(raw)
	if m == nil {
		b.Fatalf("no %s in /proc/%d/status", field, pid)
	}
	kb, _ := strconv.ParseInt(string(m[1]), 10, 64)
	return kb << 10
}

func fileSize(b *testing.B, path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	return fi.Size()
}

// filler is tests/internal/sessionfill running under migrate-run, driven
// through its stdin and stdout.
type filler struct {
	b      *testing.B
	cmd    *exec.Cmd
	in     io.WriteCloser
	lines  chan string
	exited chan struct{}
}

func startFiller(b *testing.B, d *daemon, workers int) *filler {
	f := &filler{b: b, lines: make(chan string, 16), exited: make(chan struct{})}
	f.cmd = exec.Command(binPath(b, "migrate-run"), "--socket", d.sock, "--name", "fill", "--",
		binPath(b, "sessionfill"), "--workers", strconv.Itoa(workers))
	f.cmd.Env = []string{"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/root", "LANG=C.UTF-8"}
	f.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// A file, not a pipe the test copies: migrated keeps the descriptors
	// migrate-run passes it while it forwards the app's output.
	logPath := filepath.Join(d.dir, "sessionfill.log")
	logf, err := os.Create(logPath)
	if err != nil {
		b.Fatal(err)
	}
	defer logf.Close()
	f.cmd.Stderr = logf
	if f.in, err = f.cmd.StdinPipe(); err != nil {
		b.Fatal(err)
	}
	out, err := f.cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := f.cmd.Start(); err != nil {
		b.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			f.lines <- sc.Text()
		}
		close(f.lines)
	}()
	go func() { _ = f.cmd.Wait(); close(f.exited) }()
	b.Cleanup(func() {
		f.in.Close()
		select {
		case <-f.exited:
		case <-time.After(time.Minute):
			_ = syscall.Kill(-f.cmd.Process.Pid, syscall.SIGKILL)
			<-f.exited
		}
		if msg, _ := os.ReadFile(logPath); len(msg) > 0 {
			b.Logf("sessionfill: %s", tail(string(msg), 2000))
		}
	})
	f.expect(`^sessionfill: ready`)
	return f
}

// expect waits for the driver's next line and checks it against re.
func (f *filler) expect(re string) []string {
	f.b.Helper()
	select {
	case line, ok := <-f.lines:
		if !ok {
			f.b.Fatalf("sessionfill ended before a line matched %q", re)
		}
		m := regexp.MustCompile(re).FindStringSubmatch(line)
		if m == nil {
			f.b.Fatalf("sessionfill printed %q, want %q", line, re)
		}
		return m
	case <-time.After(5 * time.Minute):
		f.b.Fatalf("sessionfill printed nothing matching %q within 5 minutes", re)
	}
	return nil
}

// fill asks the driver to hold n sessions in all and waits until it does.
func (f *filler) fill(n int) {
	f.b.Helper()
	if _, err := fmt.Fprintf(f.in, "fill %d\n", n); err != nil {
		f.b.Fatal(err)
	}
	f.expect(fmt.Sprintf(`^sessionfill: held %d in `, n))
}

// wait waits until migrate-run and the driver under it have exited.
func (f *filler) wait() {
	f.b.Helper()
	select {
	case <-f.exited:
	case <-time.After(time.Minute):
		f.b.Fatal("migrate-run sessionfill did not exit within a minute of its supervisor")
	}
}

// heapProfile is the heap profile of migrated holding the most sessions:
// in MIGRATE_BENCH_OUT as capacity.heap.pprof when it is set, in a
// temporary directory otherwise. Each size's migrated writes it on SIGUSR1
// (--memprofile), so the last size's is the one kept.
type heapProfile struct {
	path string
	rel  string // relative to MIGRATE_BENCH_OUT, "" when not kept
}

func newHeapProfile(b *testing.B) *heapProfile {
	const name = benchout.SectionCapacity + ".heap.pprof"
	if dir := os.Getenv(benchout.EnvOut); dir != "" {
		return &heapProfile{path: filepath.Join(dir, name), rel: name}
	}
	return &heapProfile{path: filepath.Join(b.TempDir(), name)}
}

// take has migrated write its heap profile now and waits until it has
// (migrated renames the finished file into place).
func (h *heapProfile) take(b *testing.B, d *daemon) {
	b.Helper()
	if err := os.Remove(h.path); err != nil && !os.IsNotExist(err) {
		b.Fatal(err)
	}
	if err := d.cmd.Process.Signal(syscall.SIGUSR1); err != nil {
		b.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		if _, err := os.Stat(h.path); err == nil {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("migrated wrote no heap profile within a minute of SIGUSR1:\n%s", tail(d.log(), 2000))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// inUse is the profile's in-use total, in bytes.
func (h *heapProfile) inUse(b *testing.B) int64 {
	b.Helper()
	out, err := exec.Command("go", "tool", "pprof", "-top", "-sample_index=inuse_space", "-nodecount=1", binPath(b, "migrated"), h.path).CombinedOutput()
	if err != nil {
		b.Fatalf("go tool pprof: %v\n%s", err, out)
	}
	total := heapTotal(string(out))
	if total == 0 {
		b.Fatalf("no total in go tool pprof -top's output:\n%s", out)
	}
	return total
}

// finish returns the profile's name for the section and the head of `go
// tool pprof -top` on its in-use space.
func (h *heapProfile) finish(b *testing.B) (string, string) {
	b.Helper()
	args := []string{"tool", "pprof", "-top", "-sample_index=inuse_space", "-nodecount=25"}
	out, err := exec.Command("go", append(args, binPath(b, "migrated"), h.path)...).CombinedOutput()
	if err != nil {
		b.Errorf("go tool pprof: %v\n%s", err, out)
		return h.rel, ""
	}
	top := "$ go " + strings.Join(args, " ") + " migrated " + filepath.Base(h.path) + "\n" + strings.TrimSpace(string(out))
	b.Logf("migrated's heap profile (%s):\n%s", h.path, top)
	return h.rel, top
}
