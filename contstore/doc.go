// Package contstore keeps session continuations, the sessions they resume,
// the apps' compatibility vectors and the supervisor's bookkeeping in one
// bbolt file. It stores records only: it never holds a descriptor and never
// starts a process. A Slot says which descriptor the supervisor holds for a
// slot; the supervisor owns the descriptor itself.
//
// # Basics
//
// Open a store (it is created if missing), register the session, put its
// continuation, and move the continuation through its states:
//
//	s, err := contstore.Open("/var/lib/migrate/cont.db", contstore.Options{})
//	...
//	defer s.Close()
//	err = s.PutSession(contstore.Session{ID: "ssh-1", App: "sshd", State: contstore.SessionActive})
//	c := contstore.Continuation{App: "sshd", Session: "ssh-1", Kind: contstore.KindSystem, State: contstore.StateSuspended, ...}
//	err = s.Put(&c)                 // on disk when it returns; c.ID is set
//	err = s.Transition(c.ID, contstore.StateSuspended, contstore.StateResuming)
//	c, err = s.Get(c.ID)
//	list, err := s.List(contstore.Filter{App: "sshd", State: contstore.StateSuspended})
//
// A continuation's ID is 16 bytes, a millisecond timestamp then random bits
// (the ULID layout), printed as 26 characters of Crockford base32. IDs sort
// by creation time, and so do List results. Put assigns NewID() to a record
// without one; NewID is called outside the write transaction.
//
// Records are JSON (the exec description is a runtime-spec Process) except
// the app's attribute/value store, which is serialized compactly and
// compressed with zstd; Continuation.StoreRawBytes and StoreCompressedBytes
// give both sizes. Beside the records the file holds three indexes kept in
// the same transaction as the record they index: by state and app, by
// session, and by expiry time (ExpiredBefore is a cursor range scan). Check
// verifies all of it.
//
// Every write validates its input first and reports a *ValidationError
// (ErrInvalid) naming the field; a write that fails for any reason writes
// nothing. Transition is a compare-and-set on the state and refuses moves
// the state machine forbids (see State).
//
// # Caveats
//
// Durability. A write returns nil only after bbolt committed it and
// fdatasync'd the file (bbolt syncs the data pages, then the meta page);
// NoSync is never set. The freelist is synced too (bbolt's default, not
// NoFreelistSync): one more page per commit, in exchange for an Open that
// does not scan the whole file to rebuild it, which matters to a supervisor
// restarting with many held sessions and to a read-only inspector that
// cannot rebuild anything.
//
// Shared commits. A write from a lone goroutine commits at once. Writes that
// overlap go through bbolt's Batch, which gathers them into one commit (for
// up to 10 ms or 1000 writes), so that 64 concurrent Puts cost a few fsyncs,
// not 64. Batch may run a write's function more than once; every function
// here derives all it writes from the transaction and from values computed
// before (IDs, times, encodings), so a re-run writes the same. When one
// write of a batch fails, bbolt retries the others without it; the failed
// one gets its own error and writes nothing.
//
// Locking. The file carries a flock: exclusive for a read-write Store,
// shared for a read-only one. Only one process (and only one Store in a
// process) may have it open read-write. Open waits Options.Timeout (1 s by
// default) and then returns a *LockedError (ErrLocked) naming the holder's
// pid and command, found in /proc/locks. A read-only Store coexists with
// other read-only ones but not with a writer.
//
// Read-only. Options.ReadOnly never creates or modifies the file: a missing
// file is an error wrapping fs.ErrNotExist, an empty one is ErrCorrupt, and
// every write returns ErrReadOnly.
//
// Corruption. Open reads the two bbolt meta pages itself before bbolt maps
// the file, and refuses a file that is not bbolt, has a zeroed or foreign
// meta page, or is shorter than its meta page says (ErrCorrupt); a meta page
// that only fails its checksum is a meta write torn by a crash, and bbolt
// falls back to the other one, losing that last, unacknowledged commit.
// Reads run with memory faults turned into panics and recover bbolt's
// panics, so a damaged page gives ErrCorrupt rather than a crash. The
// guard cannot reach the goroutines bbolt starts on its own (a batch's
// commit, tx.Check), so a file damaged while it is open, or a damaged page
// first met there, can still crash the process; Check walks every page
// under the guard before it calls tx.Check. Options.Check runs Check at
// Open.
package contstore
