package contstore

import (
	"bufio"
	"fmt"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
)

func TestConcurrentPutsShareCommits(t *testing.T) {
	s := newTestStore(t)
	putSession(t, s, "sshd", "s1")
	before, err := s.Stats()
	if err != nil {
		t.Fatal(err)
	}
	const writers = 64
	put := make([]Continuation, writers)
	errs := make([]error, writers)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range writers {
		wg.Go(func() {
			c := fullContinuation("sshd", "s1")
			c.Note = fmt.Sprintf("writer %d", i)
			<-start
			errs[i] = s.Put(&c)
			put[i] = c
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("writer %d: %v", i, err)
		}
	}
	after, err := s.Stats()
	if err != nil {
		t.Fatal(err)
	}
	commits := after.TxID - before.TxID
	t.Logf("%d concurrent Puts took %d commits", writers, commits)
	if commits < 1 || commits >= writers {
		t.Errorf("%d concurrent Puts took %d commits, want them shared", writers, commits)
	}
	if after.Continuations != writers {
		t.Errorf("%d continuations stored, want %d", after.Continuations, writers)
	}
	for i, want := range put {
		got, err := s.Get(want.ID)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("writer %d: Get = %v; the record differs from what was put", i, err)
		}
	}
}

func TestConcurrentTransitionsOneWins(t *testing.T) {
	// Many resumers race for the same continuation: the compare-and-set
	// lets exactly one move it.
	s := newTestStore(t)
	putSession(t, s, "app", "s1")
	c := mustPut(t, s, smallContinuation("app", "s1", StateSuspended))
	const racers = 16
	errs := make(chan error, racers)
	var wg sync.WaitGroup
	for range racers {
		wg.Go(func() { errs <- s.Transition(c.ID, StateSuspended, StateResuming) })
	}
	wg.Wait()
	close(errs)
	won := 0
	for err := range errs {
		switch {
		case err == nil:
			won++
		case !strings.Contains(err.Error(), "is resuming, not suspended"):
			t.Errorf("a losing Transition: %v, want a state mismatch naming resuming", err)
		}
	}
	if won != 1 {
		t.Errorf("%d Transitions won, want exactly 1", won)
	}
}

// TestCrashKeepsAcknowledgedWrites kills a writer process with SIGKILL in
// the middle of its stream of Puts and checks that every Put it had
// acknowledged survives, intact, and that the file is consistent. SIGKILL
// leaves the page cache alone, so this shows that commits are atomic and
// that acknowledgement waits for the commit; surviving power loss rests on
// the fsync bbolt does on every commit.
func TestCrashKeepsAcknowledgedWrites(t *testing.T) {
	for _, writers := range []int{1, 8} {
		t.Run(fmt.Sprintf("writers=%d", writers), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "cont.db")
			s, err := Open(path, Options{})
			if err != nil {
				t.Fatal(err)
			}
			for i := range 4 {
				putSession(t, s, "crash", fmt.Sprintf("s%d", i))
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			acked := runCrashWriter(t, path, writers, 60)
			s = openStore(t, path, Options{Check: true})
			for seq, id := range acked {
				want, _, err := newRecord(ptr(crashRecord(seq, id)))
				if err != nil {
					t.Fatal(err)
				}
				got, err := s.Get(id)
				if err != nil {
					t.Errorf("acknowledged record %d (%s): %v", seq, id, err)
				} else if !reflect.DeepEqual(got, want) {
					t.Errorf("acknowledged record %d (%s) differs:\n got %+v\nwant %+v", seq, id, got, want)
				}
			}
			t.Logf("%d acknowledged records intact", len(acked))
		})
	}
}

func ptr[T any](v T) *T { return &v }

// runCrashWriter starts the crash-writer child, reads acknowledgements
// until it has killAfter of them, kills the child with SIGKILL, and returns
// every acknowledgement the child got out before it died.
func runCrashWriter(t *testing.T, path string, writers, killAfter int) map[int]ID {
	t.Helper()
	w := startChild(t, "crash-writer", childPathEnv+"="+path, childWriteEnv+"="+strconv.Itoa(writers))
	acked := make(map[int]ID)
	lines := bufio.NewScanner(w.stdout)
	for lines.Scan() {
		var seq int
		var idText string
		if _, err := fmt.Sscanf(lines.Text(), "%d %s", &seq, &idText); err != nil {
			t.Fatalf("child said %q: %v", lines.Text(), err)
		}
		id, err := ParseID(idText)
		if err != nil {
			t.Fatal(err)
		}
		acked[seq] = id
		if len(acked) == killAfter {
			if err := w.cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
		}
	}
	err := w.cmd.Wait()
	if status, ok := w.cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || status.Signal() != syscall.SIGKILL {
		t.Fatalf("crash writer ended with %v before it was killed", err)
	}
	if len(acked) < killAfter {
		t.Fatalf("%d acknowledgements, want at least %d", len(acked), killAfter)
	}
	return acked
}
