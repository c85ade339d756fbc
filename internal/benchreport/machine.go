package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/migrate-run/migrate/internal/benchout"
)

// runInfo is what the report says about the run besides its numbers.
type runInfo struct {
	Date    time.Time
	Commit  string // "" when not in a git checkout
	Dirty   bool   // the work tree had uncommitted changes
	Quick   bool   // MIGRATE_BENCH_QUICK=1: the short (CI) version
	Machine machine
}

// machine describes the host the benchmarks ran on.
type machine struct {
	CPU     string // model name from /proc/cpuinfo
	Cores   int    // online CPUs
	Memory  int64  // MemTotal, bytes
	Kernel  string // uname release
	StoreFS string // file system of the temporary directory the stores live in
	Go      string // Go version
	Load    string // /proc/loadavg's first three fields when the report was made
	// LoadBefore is the same when the benchmarks started, as the caller
	// (make bench) recorded it; "" when it did not.
	LoadBefore string
}

// collectRunInfo reads the date, the commit and the machine now; the
// generator runs right after the benchmarks, on the same machine.
func collectRunInfo() runInfo {
	commit, dirty := gitState()
	return runInfo{
		Date:   time.Now().UTC(),
		Commit: commit,
		Dirty:  dirty,
		Quick:  benchout.Quick(),
		Machine: machine{
			CPU:     cpuModel(),
			Cores:   runtime.NumCPU(),
			Memory:  memTotal(),
			Kernel:  firstLine("/proc/sys/kernel/osrelease"),
			StoreFS: fileSystemOf(os.TempDir()),
			Go:      runtime.Version(),
			Load:    loadAvg(),
		},
	}
}

// gitState is the commit measured and whether the tree differs from it.
// The report's own outputs (docs/bench.md, docs/bench/) do not count: the
// previous run's are in the tree, uncommitted, every time make bench runs
// again.
func gitState() (commit string, dirty bool) {
	out, err := exec.Command("git", "rev-parse", "HEAD").Output()
	if err != nil {
		return "", false
	}
	status, err := exec.Command("git", "status", "--porcelain", "--untracked-files=no", "--",
		":/", ":(top,exclude)docs/bench.md", ":(top,exclude)docs/bench").Output()
	return strings.TrimSpace(string(out)), err == nil && len(bytes.TrimSpace(status)) > 0
}

func firstLine(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	line, _, _ := strings.Cut(string(b), "\n")
	return strings.TrimSpace(line)
}

func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func memTotal() int64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == "MemTotal:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb * 1024
		}
	}
	return 0
}

func loadAvg() string {
	f := strings.Fields(firstLine("/proc/loadavg"))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

// fileSystemOf names the file system holding path from
// /proc/self/mountinfo: the mount with the longest mount point that
// contains it, as "TYPE on SOURCE (mounted at POINT)".
func fileSystemOf(path string) string {
	if p, err := filepath.EvalSymlinks(path); err == nil {
		path = p
	}
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return ""
	}
	best, desc := -1, ""
	for line := range strings.SplitSeq(string(b), "\n") {
		pre, post, ok := strings.Cut(line, " - ")
		f, g := strings.Fields(pre), strings.Fields(post)
		if !ok || len(f) < 5 || len(g) < 2 {
			continue
		}
		point := unescapeMount(f[4])
		if !within(path, point) || len(point) <= best {
			continue
		}
		best, desc = len(point), fmt.Sprintf("%s on %s (mounted at %s)", g[0], g[1], point)
	}
	return desc
}

func within(path, dir string) bool {
	return dir == "/" || path == dir || strings.HasPrefix(path, dir+"/")
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
