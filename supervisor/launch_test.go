package supervisor

import (
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/migrate-run/migrate/launcher"
)

// TestLaunchTable: a status reaped while launches are in flight is parked,
// claimed only by a launch that began before it was reaped, and dropped once
// no such launch remains; with no launch in flight it is not kept at all.
func TestLaunchTable(t *testing.T) {
	var lt launchTable
	const pid = 100
	ws := unix.WaitStatus(7 << 8)

	lt.park(pid, ws)
	if !lt.settled() {
		t.Fatal("a status reaped with no launch in flight was kept")
	}

	a := lt.begin()
	lt.park(pid, ws)
	if lt.settled() {
		t.Fatal("a status reaped during a launch was not parked")
	}
	lt.claim(a, pid)
	lt.end(a)
	got := lt.takeClaimed()
	if len(got) != 1 || got[0].pid != pid || got[0].ws != ws || !lt.settled() {
		t.Fatalf("claimed %v, settled %v; want pid %d with its status, settled", got, lt.settled(), pid)
	}

	// A launch that began after the reap cannot own the pid (its process
	// did not exist yet); the status stays for the older launch, and goes
	// with it.
	older := lt.begin()
	lt.park(pid, ws)
	newer := lt.begin()
	lt.claim(newer, pid)
	lt.end(newer)
	if len(lt.takeClaimed()) != 0 || len(lt.parked) != 1 {
		t.Fatalf("a launch begun after the reap claimed the status, or it was dropped early: parked %v", lt.parked)
	}
	lt.end(older)
	if !lt.settled() || len(lt.inflight) != 0 {
		t.Fatalf("after the last launch ended: parked %v, in flight %v", lt.parked, lt.inflight)
	}
	select {
	case <-lt.wakeChan():
	default:
		t.Error("ending a launch did not wake the reaper")
	}
}

// launchApp starts an app whose main process sleeps, for tests that launch
// processes of their own into it.
func launchApp(h *harness) *App {
	h.t.Helper()
	io := h.startSpecIO(AppSpec{Name: "launches", Args: []string{"/bin/sleep", "3600"}, Cwd: "/",
		Env: []string{"PATH=/usr/bin:/bin"}})
	return io.app
}

// programSpec describes running program in app a's cgroups, as a.
func programSpec(a *App, program string) launcher.Spec {
	return launcher.Spec{Process: &specs.Process{Args: []string{program}, Env: []string{"PATH=/usr/bin:/bin"},
		Cwd: "/", User: a.user}, Cgroups: a.cgroups()}
}

// TestConcurrentLaunchesMissNoExit: launches run at once, their processes
// exit immediately, half of them (by a hook) before their pid is even
// registered, and every exit is recorded with its status; failed launches
// among them leave nothing parked.
func TestConcurrentLaunchesMissNoExit(t *testing.T) {
	h := newHarness(t, nil)
	a := launchApp(h)
	const n = 32
	var early, parked atomic.Int64
	h.s.launches.started = func(pid int) {
		if early.Add(1)%2 == 0 {
			return
		}
		// Wait for the process to exit, and reap it here and now: its
		// status must be parked, since its pid is not registered yet.
		if fd, err := unix.PidfdOpen(pid, 0); err == nil {
			fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
			for {
				if _, err := unix.Poll(fds, -1); !errors.Is(err, unix.EINTR) {
					break
				}
			}
			unix.Close(fd)
		}
		h.s.reapAll()
		h.s.mu.Lock()
		if _, ok := h.s.launches.parked[pid]; ok {
			parked.Add(1)
		}
		h.s.mu.Unlock()
	}
	t.Cleanup(func() { h.s.launches.started = nil })

	type result struct {
		p    *proc
		want int
		err  error
	}
	results := make(chan result, 2*n)
	bad := programSpec(a, "/bin/true")
	bad.Process.Cwd = "/nonexistent-supervisor-test"
	for i := range 2 * n {
		go func() {
			spec, want := programSpec(a, "/bin/true"), 0
			switch i % 4 {
			case 1:
				spec, want = programSpec(a, "/bin/false"), 1
			case 3:
				spec, want = bad, -1
			}
			p, err := h.s.launch(a, spec, launchOpts{})
			results <- result{p, want, err}
		}()
	}
	timeout := time.After(time.Minute)
	for range 2 * n {
		r := <-results
		if r.want < 0 {
			if r.err == nil {
				t.Errorf("a launch in a missing directory succeeded")
			}
			continue
		}
		if r.err != nil {
			t.Errorf("launch: %v", r.err)
			continue
		}
		select {
		case <-r.p.exited:
			if r.p.status.Code != r.want {
				t.Errorf("pid %d exited with %+v, want code %d", r.p.pid, r.p.status, r.want)
			}
		case <-timeout:
			t.Fatalf("the exit of pid %d was not recorded", r.p.pid)
		}
	}
	t.Logf("%d exits reaped before their pid was registered", parked.Load())
	if parked.Load() == 0 {
		t.Error("no exit was reaped before its pid was registered: the test did not test that")
	}
	h.s.mu.Lock()
	defer h.s.mu.Unlock()
	if len(h.s.launches.inflight) != 0 || !h.s.launches.settled() {
		t.Errorf("after the launches: in flight %v, parked %v, claimed %v",
			h.s.launches.inflight, h.s.launches.parked, h.s.launches.claimed)
	}
}

// BenchmarkLaunchConcurrent launches 64 processes of /bin/true into one
// app's cgroups at once, each from its own goroutine, and waits until the
// supervisor has recorded every exit: the launch side of 64 simultaneous
// resumes. The trampoline is the test binary ("self") or
// cmd/migrate-trampoline, built for the benchmark ("dedicated").
func BenchmarkLaunchConcurrent(b *testing.B) {
	b.Run("self", func(b *testing.B) { benchmarkLaunchConcurrent(b, "") })
	b.Run("dedicated", func(b *testing.B) { benchmarkLaunchConcurrent(b, buildTrampoline(b)) })
}

func benchmarkLaunchConcurrent(b *testing.B, trampoline string) {
	const n = 64
	if err := launcher.SetTrampoline(trampoline); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = launcher.SetTrampoline("") })
	h := newHarness(b, nil)
	a := launchApp(h)
	spec := programSpec(a, "/bin/true")
	for b.Loop() {
		var wg sync.WaitGroup
		for range n {
			wg.Go(func() {
				p, err := h.s.launch(a, spec, launchOpts{})
				if err != nil {
					b.Error(err)
					return
				}
				<-p.exited
			})
		}
		wg.Wait()
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*n), "µs/launch")
}

// buildTrampoline builds cmd/migrate-trampoline into a directory removed
// when b ends, and returns its path.
func buildTrampoline(b *testing.B) string {
	b.Helper()
	gomod, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		b.Skipf("no go command to build the trampoline: %v", err)
	}
	dir := b.TempDir()
	cmd := exec.Command("go", "build", "-o", dir+"/", "./cmd/migrate-trampoline")
	cmd.Dir = filepath.Dir(strings.TrimSpace(string(gomod)))
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("build cmd/migrate-trampoline: %v\n%s", err, out)
	}
	return filepath.Join(dir, launcher.TrampolineName)
}
