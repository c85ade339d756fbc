package contstore

import (
	"bytes"
	"encoding/json"
	"fmt"
	"runtime"
	"strings"

	bolt "go.etcd.io/bbolt"
)

// maxProblems caps how many problems a Check error lists.
const maxProblems = 20

// Check verifies the whole store and returns nil or an error wrapping
// ErrCorrupt that lists what is wrong. It checks, in one read transaction:
//   - every continuation decodes (store included), is stored under its own
//     ID, validates, and refers to a stored session of its app;
//   - the by-state, by-session and expiry indexes hold exactly one entry
//     per continuation (expiry: per continuation with an expiry) and
//     nothing else;
//   - every session and compat vector decodes and validates;
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

// checkRecords checks this package's invariants and returns the problems.
func checkRecords(tx *bolt.Tx) []string {
	if err := checkSchema(tx); err != nil {
		return []string{err.Error()}
	}
	var problems []string
	report := func(format string, args ...any) {
		problems = append(problems, fmt.Sprintf(format, args...))
	}
	want := map[string]int{} // index bucket → entries the records own
	_ = tx.Bucket(bucketContinuations).ForEach(func(k, v []byte) error {
		c, err := decodeRecord(v, true)
		switch {
		case err != nil:
			report("continuation %s: %v", keyName(k), err)
			return nil
		case !bytes.Equal(k, c.ID[:]):
			report("continuation %s: record says it is %s", keyName(k), c.ID)
			return nil
		}
		if err := validateRecord(&c); err != nil {
			report("continuation %s: %v", c.ID, err)
		}
		if err := sessionOwnedBy(tx, c.Session, c.App); err != nil {
			report("continuation %s: %v", c.ID, err)
		}
		for _, e := range keysOf(&c).entries() {
			want[string(e.bucket)]++
			if _, ok := lookup(tx.Bucket(e.bucket), e.key); !ok {
				report("continuation %s: no %s index entry", c.ID, e.bucket)
			}
		}
		return nil
	})
	for _, name := range [][]byte{bucketByState, bucketBySession, bucketExpiry} {
		if n := tx.Bucket(name).Stats().KeyN; n != want[string(name)] {
			report("index %s holds %d entries, the continuations own %d", name, n, want[string(name)])
		}
	}
	_ = tx.Bucket(bucketSessions).ForEach(func(k, v []byte) error {
		sess, err := decodeSession(string(k), v)
		if err == nil {
			err = validateSession(&sess)
		}
		if err != nil {
			report("session %q: %v", k, err)
		}
		return nil
	})
	_ = tx.Bucket(bucketCompat).ForEach(func(k, v []byte) error {
		var tags []Tag
		err := json.Unmarshal(v, &tags)
		if err == nil {
			err = validateTags("tags", tags)
		}
		if err != nil {
			report("compat vector of %q: %v", k, err)
		}
		return nil
	})
	return problems
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
	var id ID
	if len(k) != len(id) {
		return fmt.Sprintf("key %x", k)
	}
	copy(id[:], k)
	return id.String()
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
