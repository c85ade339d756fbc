package contstore

import (
	"bytes"
	"fmt"
	"runtime"
	"strings"

	bolt "go.etcd.io/bbolt"
)

// maxProblems caps how many problems a Check error lists.
const maxProblems = 20

// Check verifies the whole store and returns nil or an error wrapping
// ErrCorrupt that lists what is wrong. It checks, in one read transaction:
//   - every continuation is keyed by a non-zero ID, decodes (store
//     included), validates, and refers to a stored session of its app;
//   - the by-state, by-session and expiry indexes hold exactly one entry
//     per continuation (expiry: per continuation with an expiry) and
//     nothing else;
//   - every session is keyed by a non-zero ID, and it and every compat
//     vector decode and validate;
//   - the continuations' and the sessions' sequences are at or above their
//     largest ID, so that Put and PutSession never assign a taken one;
//   - bbolt's own structure (tx.Check): every page reachable once, keys in
//     order, the freelist sane.
//
// It reads every page, so its cost grows with the file. Before tx.Check,
// which runs on a goroutine of bbolt's own where a fault would crash the
// process, Check reads every page of every bucket itself under the fault
// guard, so that a wild page id is an error here first.
func (s *Store) Check() error {
	var problems []string
	err := s.view(func(tx *bolt.Tx) error {
		if err := touchAll(tx); err != nil {
			return err
		}
		problems = checkRecords(tx)
		for err := range tx.Check() {
			problems = append(problems, "bbolt: "+err.Error())
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("check store %s: %w", s.path, err)
	}
	if len(problems) == 0 {
		return nil
	}
	more := ""
	if len(problems) > maxProblems {
		more = fmt.Sprintf("; and %d more", len(problems)-maxProblems)
		problems = problems[:maxProblems]
	}
	return fmt.Errorf("check store %s: %w: %s%s", s.path, ErrCorrupt, strings.Join(problems, "; "), more)
}

// checker gathers the problems Check finds.
type checker struct {
	tx       *bolt.Tx
	problems []string
	owned    map[string]int // index bucket → entries the decoded records own
}

func (c *checker) report(format string, args ...any) {
	c.problems = append(c.problems, fmt.Sprintf(format, args...))
}

// checkRecords checks this package's invariants and returns the problems.
func checkRecords(tx *bolt.Tx) []string {
	if err := checkSchema(tx); err != nil {
		return []string{err.Error()}
	}
	c := &checker{tx: tx, owned: map[string]int{}}
	_ = tx.Bucket(bucketContinuations).ForEach(c.continuation)
	for _, name := range [][]byte{bucketByState, bucketBySession, bucketExpiry} {
		if n := tx.Bucket(name).Stats().KeyN; n != c.owned[string(name)] {
			c.report("index %s holds %d entries, the continuations own %d", name, n, c.owned[string(name)])
		}
	}
	_ = tx.Bucket(bucketSessions).ForEach(c.session)
	_ = tx.Bucket(bucketCompat).ForEach(c.compat)
	c.sequence(bucketContinuations)
	c.sequence(bucketSessions)
	return c.problems
}

// sequence checks that bucket's sequence covers its largest id. Keys that
// are not ids (reported on their own) sort anywhere, so it walks back from
// the last key to the first id.
func (c *checker) sequence(bucket []byte) {
	b := c.tx.Bucket(bucket)
	cur := b.Cursor()
	for k, _ := cur.Last(); k != nil; k, _ = cur.Prev() {
		if last, ok := keyU64(k); ok {
			if b.Sequence() < last {
				c.report("%s sequence %d is below the largest id %d", bucket, b.Sequence(), last)
			}
			return
		}
	}
}

// continuation checks one record and that its index entries exist.
func (c *checker) continuation(k, v []byte) error {
	id, ok := keyU64(k)
	if !ok {
		c.report("continuation key %x is not an id", k)
		return nil
	}
	rec, err := decodeRecord(ID(id), v, true)
	if err != nil {
		c.report("continuation %d: %v", id, err)
		return nil
	}
	if err := validateRecord(&rec); err != nil {
		c.report("continuation %s: %v", rec.ID, err)
	}
	if err := sessionOwnedBy(c.tx, rec.Session, rec.App); err != nil {
		c.report("continuation %s: %v", rec.ID, err)
	}
	for _, e := range keysOf(&rec).entries() {
		c.owned[string(e.bucket)]++
		if _, ok := lookup(c.tx.Bucket(e.bucket), e.key); !ok {
			c.report("continuation %s: no %s index entry", rec.ID, e.bucket)
		}
	}
	return nil
}

func (c *checker) session(k, v []byte) error {
	id, ok := keyU64(k)
	if !ok {
		c.report("session key %x is not an id", k)
		return nil
	}
	sess, err := decodeSession(SessionID(id), v)
	if err == nil {
		err = validateSession(&sess)
	}
	if err != nil {
		c.report("session %d: %v", id, err)
	}
	return nil
}

func (c *checker) compat(k, v []byte) error {
	tags, err := decodeTags(v)
	if err == nil {
		err = validateTags("tags", tags)
	}
	if err != nil {
		c.report("compat vector of %q: %v", k, err)
	}
	return nil
}

// lookup finds key in b. It seeks rather than calls Get, which may return
// nil for an empty value.
func lookup(b *bolt.Bucket, key []byte) ([]byte, bool) {
	k, v := b.Cursor().Seek(key)
	if k == nil || !bytes.Equal(k, key) {
		return nil, false
	}
	return v, true
}

// keyName prints a continuations key: as an ID when it is one.
func keyName(k []byte) string {
	if id, ok := keyU64(k); ok {
		return ID(id).String()
	}
	return fmt.Sprintf("key %x", k)
}

// touchAll reads every key and value of every bucket, nested ones
// included, which makes bbolt visit every branch, leaf and overflow page
// reachable from the root, and reads one byte of each page a value spans.
func touchAll(tx *bolt.Tx) error {
	var sum byte
	var walk func(b *bolt.Bucket) error
	walk = func(b *bolt.Bucket) error {
		return b.ForEach(func(k, v []byte) error {
			if v == nil {
				return walk(b.Bucket(k))
			}
			for i := 0; i < len(v); i += minPageSize {
				sum ^= v[i]
			}
			return nil
		})
	}
	err := tx.ForEach(func(_ []byte, b *bolt.Bucket) error { return walk(b) })
	runtime.KeepAlive(sum) // the reads are the point: keep the compiler from dropping them
	return err
}
