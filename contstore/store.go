package contstore

import (
	"errors"
	"fmt"
	"os"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// DefaultTimeout is how long Open waits for the file lock when
// Options.Timeout is zero.
const DefaultTimeout = time.Second

// Options tune Open. The zero value opens read-write, waits DefaultTimeout
// for the lock and creates the file with mode 0600 if it is missing.
type Options struct {
	// Timeout is how long Open waits for another holder of the file lock to
	// let go before it returns a *LockedError. Zero means DefaultTimeout; a
	// negative value means one try.
	Timeout time.Duration
	// ReadOnly opens for inspection: a shared lock (so it works beside other
	// readers, not beside a writer), every write fails with ErrReadOnly, and
	// a missing file is an error wrapping fs.ErrNotExist, never created.
	ReadOnly bool
	// Mode is the permission of a file Open creates; zero means 0600.
	Mode os.FileMode
	// Check runs Check before Open returns, and fails with its error. It
	// reads the whole file.
	Check bool
}

// Store is an open continuation store. Its methods are safe for concurrent
// use; writes from concurrent goroutines share commits.
type Store struct {
	db       *bolt.DB
	path     string
	readOnly bool
	commits  committer // shares commits between concurrent writes
}

// Open opens the store at path, creating it unless opts.ReadOnly. It takes
// the file lock first (see Options.Timeout), then checks the file before
// bbolt maps it: a file that is not a store, has a bad meta page or is
// truncated gives an error wrapping ErrCorrupt, a store of another schema a
// *SchemaError. Every error leaves nothing open and the file unchanged.
func Open(path string, opts Options) (*Store, error) {
	if opts.Timeout == 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.Mode == 0 {
		opts.Mode = 0o600
	}
	s, err := open(path, opts)
	if err != nil {
		mode := ""
		if opts.ReadOnly {
			mode = " read-only"
		}
		return nil, fmt.Errorf("open store %s%s: %w", path, mode, err)
	}
	return s, nil
}

func open(path string, opts Options) (*Store, error) {
	var file *os.File
	openFile := func(name string, flag int, perm os.FileMode) (*os.File, error) {
		f, err := os.OpenFile(name, flag, perm) // O_CLOEXEC, as os always does
		if err != nil {
			return nil, err
		}
		if err = lockFile(f, !opts.ReadOnly, opts.Timeout); err == nil {
			err = precheck(f, opts.ReadOnly)
		}
		if err != nil {
			f.Close()
			return nil, err
		}
		file = f
		return f, nil
	}
	var db *bolt.DB
	err := guard(func() (err error) {
		db, err = bolt.Open(path, opts.Mode, &bolt.Options{
			Timeout:  opts.Timeout, // the lock is ours already; bbolt's flock succeeds at once
			ReadOnly: opts.ReadOnly,
			OpenFile: openFile,
			// Read the freelist now, under guard, not first in tx.Check's
			// goroutine (bbolt always does for a writer).
			PreLoadFreelist: true,
		})
		return err
	})
	if err != nil {
		if file != nil {
			file.Close() // only open if bbolt panicked; a second Close is harmless
		}
		return nil, boltErr(err)
	}
	s := &Store{db: db, path: path, readOnly: opts.ReadOnly}
	if err := s.prepare(opts.Check); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// prepare creates the schema of a new file or checks an existing one.
func (s *Store) prepare(check bool) error {
	var empty bool
	err := s.view(func(tx *bolt.Tx) error {
		if empty = isEmpty(tx); empty {
			return nil
		}
		return checkSchema(tx)
	})
	switch {
	case err != nil:
		return err
	case empty && s.readOnly:
		return &SchemaError{Found: 0, Supported: SchemaVersion}
	case empty:
		err = guard(func() error { return s.db.Update(createSchema) })
	case check:
		err = s.Check()
	}
	return err
}

// Close closes the store and releases the file lock. Writes still waiting
// for a shared commit fail with ErrClosed.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("close store %s: %w", s.path, err)
	}
	return nil
}

// Path returns the path the store was opened with.
func (s *Store) Path() string { return s.path }

// update runs fn in a write transaction and returns once it is committed
// and fsynced. A lone writer commits at once; concurrent writers share
// commits (committer), so fn may run more than once: it must derive
// everything from tx and values computed before update.
func (s *Store) update(fn func(*bolt.Tx) error) error {
	if s.readOnly {
		return ErrReadOnly
	}
	return s.commits.update(s.db, fn)
}

// view runs fn in a read transaction.
func (s *Store) view(fn func(*bolt.Tx) error) error {
	return guard(func() error { return boltErr(s.db.View(fn)) })
}

// boltErr maps bbolt's errors onto this package's sentinels.
func boltErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, berrors.ErrDatabaseNotOpen):
		return ErrClosed
	case errors.Is(err, berrors.ErrDatabaseReadOnly):
		return ErrReadOnly
	case errors.Is(err, berrors.ErrTimeout):
		return ErrLocked
	case errors.Is(err, berrors.ErrInvalid), errors.Is(err, berrors.ErrVersionMismatch), errors.Is(err, berrors.ErrChecksum):
		return fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	return err
}
