package contstore

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// holdCommit starts a write whose transaction waits until release is
// closed, and returns once that transaction runs: writes made meanwhile
// queue behind it.
func holdCommit(t *testing.T, s *Store) (release chan struct{}, done chan error) {
	t.Helper()
	running, release, done := make(chan struct{}), make(chan struct{}), make(chan error, 1)
	go func() {
		done <- s.update(func(tx *bolt.Tx) error {
			close(running)
			<-release
			return tx.Bucket(bucketMeta).Put([]byte("held"), []byte("1"))
		})
	}()
	<-running
	return release, done
}

// awaitQueued returns once n writes wait behind the running commit; they
// are on their way there, and nothing else can end the wait.
func awaitQueued(s *Store, n int) {
	for {
		s.commits.mu.Lock()
		k := len(s.commits.queue)
		s.commits.mu.Unlock()
		if k >= n {
			return
		}
		runtime.Gosched()
	}
}

func TestWritesQueuedBehindACommitShareTheNext(t *testing.T) {
	s := newTestStore(t)
	sid := putSession(t, s, "sshd")
	before := txID(t, s)
	release, held := holdCommit(t, s)

	const writers = 16
	errs := make([]error, writers)
	var wg sync.WaitGroup
	for i := range writers {
		wg.Go(func() {
			c := smallContinuation("sshd", sid, StateSuspended)
			c.Note = fmt.Sprintf("writer %d", i)
			errs[i] = s.Put(&c)
		})
	}
	awaitQueued(s, writers)
	close(release)
	if err := <-held; err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("writer %d: %v", i, err)
		}
	}
	if got := txID(t, s) - before; got != 2 {
		t.Errorf("a held commit and %d writes queued behind it took %d commits, want 2", writers, got)
	}
}

func TestAPanickingWriteFailsAloneInASharedCommit(t *testing.T) {
	s := newTestStore(t)
	sid := putSession(t, s, "sshd")
	release, held := holdCommit(t, s)

	var wg sync.WaitGroup
	var panicErr, putErr error
	wg.Go(func() {
		panicErr = s.update(func(*bolt.Tx) error { panic("damaged page") })
	})
	c := smallContinuation("sshd", sid, StateSuspended)
	wg.Go(func() { putErr = s.Put(&c) })
	awaitQueued(s, 2)
	close(release)
	if err := <-held; err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if !errors.Is(panicErr, ErrCorrupt) {
		t.Errorf("the panicking write: %v, want ErrCorrupt", panicErr)
	}
	if putErr != nil {
		t.Errorf("the write beside it: %v", putErr)
	}
	if _, err := s.Get(c.ID); err != nil {
		t.Errorf("the write beside it is not stored: %v", err)
	}
}
