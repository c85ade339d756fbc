//go:build linux

package launcher

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// BenchmarkStart measures Start until the app has said it runs: the helper
// writes one byte on a pipe and exits, and the benchmark waits for it. It
// starts the app directly ("direct"), or through a trampoline that is the test binary itself ("self", what a binary without a
// dedicated trampoline beside it does) or cmd/migrate-trampoline, built for
// the benchmark ("dedicated"); the app is the test binary.
func BenchmarkStart(b *testing.B) {
	benchTrampolines(b, func(b *testing.B) {
		b.Run("plain", func(b *testing.B) { benchmarkStart(b, nil) })
		b.Run("cgroups-v1-v2", func(b *testing.B) {
			if os.Geteuid() != 0 {
				b.Skip("needs root to create cgroups")
			}
			benchmarkStart(b, []string{makeCgroup(b, "pids"), makeCgroup(b, "unified")})
		})
	})
}

// BenchmarkStartConcurrent starts 64 processes of /bin/true at once, each
// Start in its own goroutine, and waits for all of them: the cost of a
// burst of launches, trampolines included, on however many cores there are.
func BenchmarkStartConcurrent(b *testing.B) {
	const n = 64
	benchTrampolines(b, func(b *testing.B) {
		spec := programSpec(b, "true")
		cpu := childCPU()
		for b.Loop() {
			var wg sync.WaitGroup
			for range n {
				wg.Go(func() {
					p, err := Start(spec)
					if err != nil {
						b.Error(err)
						return
					}
					if ps, err := p.Wait(); err != nil || !ps.Success() {
						b.Errorf("true: %v, %v", ps, err)
					}
				})
			}
			wg.Wait()
		}
		b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*n), "µs/start")
		b.ReportMetric(float64((childCPU()-cpu).Microseconds())/float64(b.N*n), "child-cpu-µs/start")
	})
}

// benchTrampolines runs bench as sub-benchmark "direct", with the direct
// path (no trampoline), "self", with the test binary as the trampoline, and
// "dedicated", with cmd/migrate-trampoline.
func benchTrampolines(b *testing.B, bench func(b *testing.B)) {
	b.Run("direct", func(b *testing.B) {
		useMode(b, ModeAuto)
		bench(b)
	})
	useMode(b, ModeTrampoline)
	b.Run("self", func(b *testing.B) {
		resetTrampolineAfter(b)
		if err := SetTrampoline(""); err != nil {
			b.Fatal(err)
		}
		bench(b)
	})
	b.Run("dedicated", func(b *testing.B) {
		resetTrampolineAfter(b)
		if err := SetTrampoline(buildTrampoline(b)); err != nil {
			b.Fatal(err)
		}
		bench(b)
	})
}

// resetTrampolineAfter forgets the trampoline choice when tb ends.
func resetTrampolineAfter(tb testing.TB) {
	tb.Cleanup(func() {
		tramp.Lock()
		defer tramp.Unlock()
		if tramp.exe != nil {
			unix.Close(tramp.exe.fd)
		}
		tramp.chosen, tramp.exe, tramp.why = false, nil, nil
	})
}

var trampolineBuild struct {
	once sync.Once
	dir  string
	err  error
}

// buildTrampoline builds cmd/migrate-trampoline once per test binary run,
// into a directory removed at exit by TestMain, and returns its path.
func buildTrampoline(tb testing.TB) string {
	tb.Helper()
	trampolineBuild.once.Do(func() {
		gomod, err := exec.Command("go", "env", "GOMOD").Output()
		if err != nil {
			trampolineBuild.err = err
			return
		}
		dir, err := os.MkdirTemp("", "launcher-trampoline-")
		if err != nil {
			trampolineBuild.err = err
			return
		}
		trampolineBuild.dir = dir
		cmd := exec.Command("go", "build", "-o", dir+"/", "./cmd/migrate-trampoline")
		cmd.Dir = filepath.Dir(strings.TrimSpace(string(gomod)))
		if out, err := cmd.CombinedOutput(); err != nil {
			trampolineBuild.err = &buildError{err, out}
		}
	})
	if trampolineBuild.err != nil {
		tb.Skipf("cannot build cmd/migrate-trampoline: %v", trampolineBuild.err)
	}
	return filepath.Join(trampolineBuild.dir, TrampolineName)
}

type buildError struct {
	err error
	out []byte
}

func (e *buildError) Error() string { return e.err.Error() + ": " + string(e.out) }

func benchmarkStart(b *testing.B, cgroups []string) {
	r, w := pipe(b)
	spec := helperSpec(b, "byte")
	spec.Files = []FD{{3, w.n}}
	spec.Cgroups = cgroups
	buf := make([]byte, 1)
	b.ReportAllocs()
	cpu := childCPU()
	for b.Loop() {
		p, err := Start(spec)
		if err != nil {
			b.Fatal(err)
		}
		checkPath(b, p)
		if n, err := unix.Read(r.n, buf); n != 1 || err != nil {
			b.Fatalf("read the helper's byte: %d, %v", n, err)
		}
		if ps, err := p.Wait(); err != nil || !ps.Success() {
			b.Fatalf("helper: %v, %v", ps, err)
		}
	}
	b.ReportMetric(float64((childCPU()-cpu).Microseconds())/float64(b.N), "child-cpu-µs/op")
}

// childCPU is the CPU time, user and system, of the reaped children so far:
// the trampolines and apps of a benchmark, a figure less sensitive than
// elapsed time to what else the machine runs.
func childCPU() time.Duration {
	var ru unix.Rusage
	_ = unix.Getrusage(unix.RUSAGE_CHILDREN, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
