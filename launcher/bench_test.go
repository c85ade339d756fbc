//go:build linux

package launcher

import (
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

// BenchmarkStart measures Start until the app has said it runs: the helper
// writes one byte on a pipe and exits, and the benchmark waits for it. Each
// iteration executes the test binary twice, as trampoline and as app.
func BenchmarkStart(b *testing.B) {
	b.Run("plain", func(b *testing.B) { benchmarkStart(b, nil) })
	b.Run("cgroups-v1-v2", func(b *testing.B) {
		if os.Geteuid() != 0 {
			b.Skip("needs root to create cgroups")
		}
		benchmarkStart(b, []string{makeCgroup(b, "pids"), makeCgroup(b, "unified")})
	})
}

func benchmarkStart(b *testing.B, cgroups []string) {
	r, w := pipe(b)
	spec := helperSpec(b, "byte")
	spec.Files = []FD{{3, w.n}}
	spec.Cgroups = cgroups
	buf := make([]byte, 1)
	b.ReportAllocs()
	for b.Loop() {
		p, err := Start(spec)
		if err != nil {
			b.Fatal(err)
		}
		if n, err := unix.Read(r.n, buf); n != 1 || err != nil {
			b.Fatalf("read the helper's byte: %d, %v", n, err)
		}
		if ps, err := p.Wait(); err != nil || !ps.Success() {
			b.Fatalf("helper: %v, %v", ps, err)
		}
	}
}
