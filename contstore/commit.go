package contstore

import (
	"errors"
	"fmt"
	"slices"
	"sync"

	bolt "go.etcd.io/bbolt"
)

// committer shares commits between concurrent writes without delaying any
// (group commit): a write that finds no commit running commits at once,
// alone; writes that arrive while a commit runs queue, and when it ends
// the first of them commits the whole queue in one transaction, one
// fsync'd commit for all. bbolt's own Batch waits up to MaxBatchDelay
// (10 ms) for company before it commits, which a lone suspend beside one
// other write would pay in full.
type committer struct {
	mu    sync.Mutex
	queue []*write // waiting for the next commit
	busy  bool     // a commit runs; its leader will hand the queue on
}

// write is one update waiting for its commit.
type write struct {
	fn  func(*bolt.Tx) error
	res chan writeResult // one lead turn, then the result; or just the result
}

type writeResult struct {
	err  error
	lead bool // commit the queue, then wait for the result
}

// update runs fn in a write transaction, shared with the writes queued
// beside it, and returns once that transaction is committed and fsynced,
// or with fn's error (fn then wrote nothing). fn may run more than once: a
// write that fails in a shared transaction rolls it back, and the others
// run again without it.
func (c *committer) update(db *bolt.DB, fn func(*bolt.Tx) error) error {
	w := &write{fn: fn, res: make(chan writeResult, 1)}
	c.mu.Lock()
	c.queue = append(c.queue, w)
	lead := !c.busy
	c.busy = true
	c.mu.Unlock()
	if lead {
		c.lead(db)
	}
	for {
		r := <-w.res
		if !r.lead {
			return r.err
		}
		c.lead(db)
	}
}

// lead commits the queue, then hands the next queue to its first write, or
// ends the busy spell when no write came meanwhile.
func (c *committer) lead(db *bolt.DB) {
	c.mu.Lock()
	batch := c.queue
	c.queue = nil
	c.mu.Unlock()
	commitAll(db, batch)
	c.mu.Lock()
	if len(c.queue) > 0 {
		c.queue[0].res <- writeResult{lead: true}
	} else {
		c.busy = false
	}
	c.mu.Unlock()
}

// commitAll commits the writes of batch in one transaction and tells each
// its result. A write whose function fails (or panics) is taken out and
// run alone, in a transaction of its own, so its error is its own and the
// others' writes are not lost with it; the others run again.
func commitAll(db *bolt.DB, batch []*write) {
	for len(batch) > 0 {
		failed := -1
		err := guard(func() error {
			return boltErr(db.Update(func(tx *bolt.Tx) error {
				for i, w := range batch {
					if err := callGuarded(w.fn, tx); err != nil {
						failed = i
						return err
					}
				}
				return nil
			}))
		})
		if failed < 0 || len(batch) == 1 && !errors.Is(err, errPanicked) {
			for _, w := range batch {
				w.res <- writeResult{err: err}
			}
			return
		}
		w := batch[failed]
		batch = slices.Delete(batch, failed, failed+1)
		w.res <- writeResult{err: guard(func() error { return boltErr(db.Update(w.fn)) })}
	}
}

// errPanicked marks a write function that panicked in a shared
// transaction; run alone, under guard, its panic becomes its own error
// (ErrCorrupt).
var errPanicked = errors.New("write panicked")

// callGuarded runs fn, turning a panic into an error so that one write's
// fault does not take the shared transaction's others with it.
func callGuarded(fn func(*bolt.Tx) error, tx *bolt.Tx) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %v", errPanicked, r)
		}
	}()
	return fn(tx)
}
