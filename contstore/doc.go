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
//	sess := contstore.Session{App: "sshd", State: contstore.SessionActive}
//	err = s.PutSession(&sess)       // sess.ID is set
//	c := contstore.Continuation{App: "sshd", Session: sess.ID, Kind: contstore.KindSystem, State: contstore.StateSuspended, ...}
//	err = s.Put(&c)                 // on disk when it returns; c.ID is set
//	err = s.Transition(c.ID, contstore.StateSuspended, contstore.StateResuming)
//	c, err = s.Get(c.ID)
//	list, err := s.List(contstore.Filter{App: "sshd", State: contstore.StateSuspended})
//
// Continuation and session IDs are the u64s the control protocol carries
// (proto, docs/protocol.md): never 0, written in decimal where they are text,
// as in MIGRATE_CONT_ID, which a resumed process reads back with ParseID. ID
// and SessionID are distinct types so that one cannot be passed for the
// other. Put and PutSession assign a record put with ID 0 the next number of
// a sequence kept in the file, one for continuations and one for sessions,
// so a new store numbers both 1, 2, 3, …; a caller may give an ID instead,
// and the sequence then moves past it. Keys are 8-byte big-endian IDs, so
// the file keeps records in numeric order, which for assigned IDs is
// creation order, and List returns them in that order. A deleted record's
// ID is not assigned again. The creation time is Continuation.Created.
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
// the state machine forbids (see State). PutMarking and TransitionMarking
// also set the continuation's session's state in the same commit, so that a
// suspend (continuation suspended, session suspended) or a resume
// (continuation resumed, session active) costs one fsync'd commit, not two.
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
// Shared commits. A write that finds no commit running commits at once.
// Writes that arrive while a commit runs queue behind it, and as soon as it
// ends they are committed together, in one transaction and one fsync (group
// commit, with no delay added: bbolt's Batch would wait up to 10 ms for
// company), so that 64 concurrent Puts cost a few fsyncs, not 64, and two
// concurrent ones cost no more than two commits' time. A write's function
// may run more than once: every function here derives all it writes from
// the transaction and from values computed before (times, encodings), so a
// re-run writes the same. IDs are the exception: they are claimed from the
// sequence inside the transaction, and nothing computed before it holds one
// (the stored values leave the ID out, it is the key). When one write of a
// shared commit fails, the transaction is rolled back, the sequence with it,
// and the others run again without it; the failed one runs alone, gets its
// own error, writes nothing and uses up no ID.
//
// Locking. The file carries a flock: exclusive for a read-write Store,
// shared for a read-only one. Only one process (and only one Store in a
// process) may have it open read-write. Open waits Options.Timeout (1 s by
// default) and then returns a *LockedError (ErrLocked) naming the holder's
// pid and command, found in /proc/locks. A read-only Store coexists with
// other read-only ones but not with a writer.
//
// Schema. The file records its layout version (SchemaVersion, 2). Version 1
// keyed continuations by 16-byte ULIDs and sessions by strings; Open refuses
// such a file with a *SchemaError rather than misread it. Version 1 had no
// users, so there is no migration: delete the file.
//
// ID space. A caller-given ID of 2^64-1 leaves the sequence nothing to
// assign, and later Puts (or PutSessions) with ID 0 fail with
// ErrIDsExhausted. Assigned IDs never get near it.
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
// panics, so a damaged page gives ErrCorrupt rather than a crash. Writes,
// shared commits included, run on a writer's goroutine under the same
// guard. The guard cannot reach the goroutine bbolt starts on its own for
// tx.Check, so a file damaged while it is open, or a damaged page first met
// there, can still crash the process; Check walks every page under the
// guard before it calls tx.Check. Options.Check runs Check at Open.
package contstore
