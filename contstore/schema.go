package contstore

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"
)

// SchemaVersion is the layout of buckets and records this build reads and
// writes. Open refuses a store with another version (ErrSchema).
//
// Version 1 keyed continuations by a 16-byte ULID and sessions by a string;
// version 2 keys both by 8-byte big-endian u64 ids and keeps the id only in
// the key. Version 1 files are refused, not converted.
const SchemaVersion = 2

// The buckets. Index values are empty; the key is the whole entry. Every id
// in a key is 8 bytes, big-endian.
var (
	// continuations: ID → record (see encode.go). The bucket's sequence is
	// the last ID assigned or given.
	bucketContinuations = []byte("continuations")
	// by-state: state 0x00 app 0x00 ID → {}. Serves List by state and app.
	bucketByState = []byte("by-state")
	// by-session: SessionID ID → {}. Serves List by session and the in-use
	// check of DeleteSession.
	bucketBySession = []byte("by-session")
	// expiry: big-endian Expires.UnixNano() (8 bytes) ID → {}, for every
	// continuation with an expiry. ExpiredBefore is a cursor range scan.
	bucketExpiry = []byte("expiry")
	// sessions: SessionID → Session as JSON, without its ID. The bucket's
	// sequence is the last SessionID assigned or given.
	bucketSessions = []byte("sessions")
	// compat: app → []Tag as JSON.
	bucketCompat = []byte("compat")
	// meta: key → value; the schema version and whatever the supervisor
	// keeps with SetMeta.
	bucketMeta = []byte("meta")
)

var allBuckets = [][]byte{
	bucketContinuations, bucketByState, bucketBySession, bucketExpiry,
	bucketSessions, bucketCompat, bucketMeta,
}

// metaSchemaKey holds SchemaVersion as decimal text. SetMeta refuses it.
const metaSchemaKey = "schema-version"

// createSchema makes a fresh file a store: the buckets and the version.
func createSchema(tx *bolt.Tx) error {
	for _, name := range allBuckets {
		if _, err := tx.CreateBucket(name); err != nil {
			return fmt.Errorf("create bucket %s: %w", name, err)
		}
	}
	return tx.Bucket(bucketMeta).Put([]byte(metaSchemaKey), []byte(strconv.Itoa(SchemaVersion)))
}

func isEmpty(tx *bolt.Tx) bool {
	k, _ := tx.Cursor().First()
	return k == nil
}

// checkSchema verifies the version and that every bucket is there.
func checkSchema(tx *bolt.Tx) error {
	found := 0
	if meta := tx.Bucket(bucketMeta); meta != nil {
		v, err := strconv.Atoi(string(meta.Get([]byte(metaSchemaKey))))
		if err == nil && v > 0 {
			found = v
		}
	}
	if found != SchemaVersion {
		return &SchemaError{Found: found, Supported: SchemaVersion}
	}
	for _, name := range allBuckets {
		if tx.Bucket(name) == nil {
			return fmt.Errorf("%w: bucket %s is missing", ErrCorrupt, name)
		}
	}
	return nil
}

// idKeyLen is the length of an ID or a SessionID in a key.
const idKeyLen = 8

func stateKey(state State, app string, id ID) []byte {
	k := make([]byte, 0, len(state)+len(app)+2+idKeyLen)
	k = append(k, state...)
	k = append(k, 0)
	k = append(k, app...)
	k = append(k, 0)
	return binary.BigEndian.AppendUint64(k, uint64(id))
}

// statePrefix is the by-state prefix for a state, or a state and an app.
func statePrefix(state State, app string) []byte {
	k := append([]byte(state), 0)
	if app != "" {
		k = append(append(k, app...), 0)
	}
	return k
}

func sessionKey(session SessionID, id ID) []byte {
	return binary.BigEndian.AppendUint64(session.key(), uint64(id))
}

func sessionPrefix(session SessionID) []byte { return session.key() }

func expiryKey(expires time.Time, id ID) []byte {
	k := binary.BigEndian.AppendUint64(make([]byte, 0, 2*idKeyLen), uint64(expires.UnixNano()))
	return binary.BigEndian.AppendUint64(k, uint64(id))
}

// idSuffix returns the ID at the end of an index key; false when the key
// is too short to hold one or the ID is 0.
func idSuffix(key []byte) (ID, bool) {
	if len(key) < idKeyLen {
		return 0, false
	}
	id := ID(binary.BigEndian.Uint64(key[len(key)-idKeyLen:]))
	return id, id != 0
}

// indexKeys are the index entries a continuation owns.
type indexKeys struct {
	state, session, expiry []byte // expiry is nil when the record never expires
}

func keysOf(c *Continuation) indexKeys {
	k := indexKeys{
		state:   stateKey(c.State, c.App, c.ID),
		session: sessionKey(c.Session, c.ID),
	}
	if !c.Expires.IsZero() {
		k.expiry = expiryKey(c.Expires, c.ID)
	}
	return k
}

func (k indexKeys) put(tx *bolt.Tx) error {
	for _, e := range k.entries() {
		if err := tx.Bucket(e.bucket).Put(e.key, nil); err != nil {
			return fmt.Errorf("index %s: %w", e.bucket, err)
		}
	}
	return nil
}

func (k indexKeys) delete(tx *bolt.Tx) error {
	for _, e := range k.entries() {
		if err := tx.Bucket(e.bucket).Delete(e.key); err != nil {
			return fmt.Errorf("index %s: %w", e.bucket, err)
		}
	}
	return nil
}

type indexEntry struct{ bucket, key []byte }

func (k indexKeys) entries() []indexEntry {
	out := []indexEntry{{bucketByState, k.state}, {bucketBySession, k.session}}
	if k.expiry != nil {
		out = append(out, indexEntry{bucketExpiry, k.expiry})
	}
	return out
}

// scanPrefix calls fn for every key of b that starts with prefix, in order.
func scanPrefix(b *bolt.Bucket, prefix []byte, fn func(k []byte) error) error {
	c := b.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		if err := fn(k); err != nil {
			return err
		}
	}
	return nil
}
