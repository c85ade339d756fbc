package contstore

import (
	"bufio"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
)

func TestConcurrentPutsShareCommits(t *testing.T) {
	s := newTestStore(t)
	s1 := putSession(t, s, "sshd")
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
			c := fullContinuation("sshd", s1)
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
	// Each writer got its own ID, under which its own record is stored: the
	// IDs were assigned inside the shared commits, not before them.
	var ids []ID
	for i, want := range put {
		ids = append(ids, want.ID)
		got, err := s.Get(want.ID)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("writer %d: Get(%s) = %v; the record differs from what was put", i, want.ID, err)
		}
	}
	if want := idRange(1, writers); !reflect.DeepEqual(sorted(ids), want) {
		t.Errorf("the writers got IDs %v, want %v", sorted(ids), want)
	}
}

func TestConcurrentFailedPutsUseNoIDs(t *testing.T) {
	// Half the writers give an ID that is taken, so their function fails
	// inside a shared commit; bbolt rolls that commit back (the sequence
	// with it) and runs the others again. The failures must write nothing
	// and use up no number, and each success keeps the ID of the commit
	// that stuck.
	s := newTestStore(t)
	s1 := putSession(t, s, "sshd")
	taken := mustPut(t, s, smallContinuation("sshd", s1, StateSuspended))
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
			c := smallContinuation("sshd", s1, StateSuspending)
			c.Note = fmt.Sprintf("writer %d", i)
			if i%2 == 1 {
				c.ID = taken.ID
			}
			<-start
			errs[i] = s.Put(&c)
			put[i] = c
		})
	}
	close(start)
	wg.Wait()
	var ids []ID
	for i, err := range errs {
		if i%2 == 1 {
			if !errors.Is(err, ErrExists) {
				t.Errorf("writer %d with a taken ID: %v, want ErrExists", i, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("writer %d: %v", i, err)
		}
		ids = append(ids, put[i].ID)
		if got, err := s.Get(put[i].ID); err != nil || !reflect.DeepEqual(got, put[i]) {
			t.Errorf("writer %d: Get(%s) = %v; the record differs from what was put", i, put[i].ID, err)
		}
	}
	if want := idRange(taken.ID+1, writers/2); !reflect.DeepEqual(sorted(ids), want) {
		t.Errorf("the successful writers got IDs %v, want %v", sorted(ids), want)
	}
	after, err := s.Stats()
	if err != nil {
		t.Fatal(err)
	}
	// Without shared commits no function would have failed inside one.
	if commits := after.TxID - before.TxID; commits >= writers/2 {
		t.Errorf("%d successful Puts took %d commits, want them shared", writers/2, commits)
	}
	if got, err := s.Get(taken.ID); err != nil || got.Note != taken.Note || got.State != StateSuspended {
		t.Errorf("the taken record is now %+v, %v; want it unchanged", got, err)
	}
}

// idRange returns the n IDs from first on.
func idRange(first ID, n int) []ID {
	out := make([]ID, n)
	for i := range out {
		out[i] = first + ID(i)
	}
	return out
}

func sorted(ids []ID) []ID { return slices.Sorted(slices.Values(ids)) }

func TestConcurrentTransitionsOneWins(t *testing.T) {
	// Many resumers race for the same continuation: the compare-and-set
	// lets exactly one move it.
	s := newTestStore(t)
	s1 := putSession(t, s, "app")
	c := mustPut(t, s, smallContinuation("app", s1, StateSuspended))
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
			for i := range crashSessions {
				sess := Session{ID: SessionID(i + 1), App: "crash", State: SessionActive}
				if err := s.PutSession(&sess); err != nil {
					t.Fatal(err)
				}
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			acked := runCrashWriter(t, path, writers, 60)
			s = openStore(t, path, Options{Check: true})
			for seq, id := range acked {
				want, _, err := newRecord(ptr(crashRecord(seq)))
				if err != nil {
					t.Fatal(err)
				}
				want.ID = id
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
	seqOf := make(map[ID]int)
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
		if other, dup := seqOf[id]; dup {
			t.Fatalf("records %d and %d were both acknowledged as %s", other, seq, id)
		}
		acked[seq], seqOf[id] = id, seq
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
