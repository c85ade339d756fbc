package tests

import (
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

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
	src := filepath.Join(dir, "main.go")
	if err := os.WriteFile(src, []byte("package main\nfunc main() {}\n"), 0o644); err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command("go", "build", "-o", bin, src)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GO111MODULE=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("build static binary: %v\n%s", err, out)
	}
	return bin
}

// BenchmarkFloorForkExecStatic is fork+exec+wait of a static binary that
// exits at once: the least a fresh process can cost.
func BenchmarkFloorForkExecStatic(b *testing.B) {
	bin := staticTrue(b)
	attr := &syscall.ProcAttr{Env: []string{}}
	b.ResetTimer()
	for b.Loop() {
		pid, err := syscall.ForkExec(bin, []string{bin}, attr)
		if err != nil {
			b.Fatal(err)
		}
		var ws syscall.WaitStatus
		if _, err := syscall.Wait4(pid, &ws, 0, nil); err != nil {
			b.Fatal(err)
		}
		if ws.ExitStatus() != 0 {
			b.Fatalf("static true exited %v", ws)
		}
	}
}

// BenchmarkFloorFsyncWrite4K is one 4 KiB write followed by fsync, on the
// file system that holds the test's temporary directory: the least a durable
// commit can cost.
func BenchmarkFloorFsyncWrite4K(b *testing.B) {
	f, err := os.OpenFile(filepath.Join(b.TempDir(), "floor"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 4096)
	b.SetBytes(int64(len(buf)))
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if _, err := f.WriteAt(buf, int64(i%256)*4096); err != nil {
			b.Fatal(err)
		}
		if err := unix.Fsync(int(f.Fd())); err != nil {
			b.Fatal(err)
		}
	}
}
