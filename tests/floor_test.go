package tests

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"go.etcd.io/bbolt"
	"golang.org/x/sys/unix"

	"github.com/migrate-run/migrate/fdpass"
	"github.com/migrate-run/migrate/internal/benchout"
)

// BenchmarkReportFloor measures the physical floor of a suspend and resume
// on this machine, each row its own cycle count (b.N is not used):
//
//	fork_exec_static  fork+exec+wait of a static binary that exits at once
//	go_start          the same with the smallest Go binary (runtime start)
//	scm_rights_1/64   1 or 64 descriptors sent over a SOCK_SEQPACKET
//	                  socketpair, received, closed, and a 1-byte reply back
//	fsync_4k          one 4 KiB pwrite + fsync
//	bbolt_commit      one bbolt Update with one small Put (two fsyncs)
//
// The files live in the benchmark's temporary directory, on the file system
// the end-to-end tests' stores use. It writes the floor section.
//
//	go test -run '^$' -bench ReportFloor -benchtime 1x ./tests/
func BenchmarkReportFloor(b *testing.B) {
	static := staticTrue(b)
	goTrue := smallestGoBinary(b)
	rows := []struct {
		key, label string
		cycles     int
		measure    func(b *testing.B, cycles int) []time.Duration
	}{
		{benchout.FloorForkExec, "fork + exec + wait, static binary", benchout.Pick(400, 40),
			func(b *testing.B, n int) []time.Duration { return floorForkExec(b, static, n) }},
		{benchout.FloorGoStart, "fork + exec + wait, smallest Go binary", benchout.Pick(200, 20),
			func(b *testing.B, n int) []time.Duration { return floorForkExec(b, goTrue, n) }},
		{benchout.FloorSCM1, "SCM_RIGHTS round trip, 1 descriptor", benchout.Pick(2000, 200),
			func(b *testing.B, n int) []time.Duration { return floorSCMRights(b, 1, n) }},
		{benchout.FloorSCM64, "SCM_RIGHTS round trip, 64 descriptors", benchout.Pick(2000, 200),
			func(b *testing.B, n int) []time.Duration { return floorSCMRights(b, 64, n) }},
		{benchout.FloorFsync4K, "4 KiB pwrite + fsync", benchout.Pick(400, 40), floorFsync},
		{benchout.FloorBoltCommit, "bbolt commit (Update, one small Put)", benchout.Pick(400, 40), floorBoltCommit},
	}
	var floor benchout.Floor
	for _, r := range rows {
		d := benchout.Summarize(r.measure(b, r.cycles))
		b.Logf("%-18s n=%d median %.3f ms p99 %.3f ms", r.key, d.N, d.Median, d.P99)
		floor.Rows = append(floor.Rows, benchout.FloorRow{Key: r.key, Label: r.label, Dist: d})
	}
	if err := benchout.Write(benchout.SectionFloor, floor); err != nil {
		b.Fatal(err)
	}
}

// staticTrue builds the smallest static executable this machine can make:
// a C program returning 0 linked with -static, or, without a C compiler, a
// Go program built with CGO_ENABLED=0.
func staticTrue(b *testing.B) string {
	b.Helper()
	dir := b.TempDir()
	bin := filepath.Join(dir, "true")
	if cc, err := exec.LookPath("cc"); err == nil {
		src := filepath.Join(dir, "true.c")
		if err := os.WriteFile(src, []byte("int main(void){return 0;}\n"), 0o644); err != nil {
			b.Fatal(err)
		}
		out, err := exec.Command(cc, "-O2", "-static", "-o", bin, src).CombinedOutput()
		if err == nil {
			return bin
		}
		b.Logf("cc -static failed, falling back to Go: %v\n%s", err, out)
	}
	return smallestGoBinary(b)
}

// smallestGoBinary builds `func main() {}` without cgo, symbols or debug
// information: what a Go process costs to start, and nothing else.
func smallestGoBinary(b *testing.B) string {
	b.Helper()
	dir := b.TempDir()
	files := map[string]string{
		"go.mod":  "module floor\n\ngo 1.26\n",
		"main.go": "package main\n\nfunc main() {}\n",
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	bin := filepath.Join(dir, "gotrue")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", bin, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=")
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("build the smallest Go binary: %v\n%s", err, out)
	}
	return bin
}

func floorForkExec(b *testing.B, bin string, cycles int) []time.Duration {
	attr := &syscall.ProcAttr{Env: []string{}}
	d := make([]time.Duration, 0, cycles)
	for range cycles {
		t0 := time.Now()
		pid, err := syscall.ForkExec(bin, []string{bin}, attr)
		if err != nil {
			b.Fatal(err)
		}
		var ws syscall.WaitStatus
		if _, err := syscall.Wait4(pid, &ws, 0, nil); err != nil {
			b.Fatal(err)
		}
		d = append(d, time.Since(t0))
		if ws.ExitStatus() != 0 {
			b.Fatalf("%s exited %v", bin, ws)
		}
	}
	return d
}

// floorSCMRights sends n descriptors (dups of /dev/null) with a 1-byte
// payload, receives and closes them on the other end, which answers with a
// 1-byte reply: the shape of an app handing its session to the supervisor.
func floorSCMRights(b *testing.B, n, cycles int) []time.Duration {
	a, c, err := fdpass.SocketPair()
	if err != nil {
		b.Fatal(err)
	}
	defer a.Close()
	defer c.Close()
	null, err := unix.Open("/dev/null", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer unix.Close(null)
	fds := make([]int, n)
	for i := range fds {
		fds[i] = null
	}
	declared := func(p []byte) (int, error) {
		if len(p) != 1 {
			return 0, fmt.Errorf("payload of %d bytes", len(p))
		}
		return int(p[0]), nil
	}
	msg, ack, buf := []byte{byte(n)}, []byte{0}, make([]byte, 16)
	d := make([]time.Duration, 0, cycles)
	for range cycles {
		t0 := time.Now()
		if err := fdpass.Send(a, msg, fds); err != nil {
			b.Fatal(err)
		}
		_, got, err := fdpass.Recv(c, buf, n, declared)
		if err != nil {
			b.Fatal(err)
		}
		for _, fd := range got {
			unix.Close(fd)
		}
		if err := fdpass.Send(c, ack, nil); err != nil {
			b.Fatal(err)
		}
		if _, _, err := fdpass.Recv(a, buf, 0, declared); err != nil {
			b.Fatal(err)
		}
		d = append(d, time.Since(t0))
	}
	return d
}

func floorFsync(b *testing.B, cycles int) []time.Duration {
	f, err := os.OpenFile(filepath.Join(b.TempDir(), "floor"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 4096)
	d := make([]time.Duration, 0, cycles)
	for i := range cycles {
		t0 := time.Now()
		if _, err := f.WriteAt(buf, int64(i%256)*4096); err != nil {
			b.Fatal(err)
		}
		if err := unix.Fsync(int(f.Fd())); err != nil {
			b.Fatal(err)
		}
		d = append(d, time.Since(t0))
	}
	return d
}

func floorBoltCommit(b *testing.B, cycles int) []time.Duration {
	db, err := bbolt.Open(filepath.Join(b.TempDir(), "floor.db"), 0o600, &bbolt.Options{Timeout: time.Second})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	bucket, value := []byte("floor"), make([]byte, 64)
	d := make([]time.Duration, 0, cycles)
	for i := range cycles {
		key := fmt.Appendf(nil, "k%06d", i)
		t0 := time.Now()
		err := db.Update(func(tx *bbolt.Tx) error {
			bk, err := tx.CreateBucketIfNotExists(bucket)
			if err != nil {
				return err
			}
			return bk.Put(key, value)
		})
		if err != nil {
			b.Fatal(err)
		}
		d = append(d, time.Since(t0))
	}
	return d
}
