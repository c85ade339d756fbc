package contstore

import (
	"encoding/binary"
	"fmt"
	"math"
	"time"

	bolt "go.etcd.io/bbolt"
)

// ExpiredBefore returns the IDs of the continuations whose Expires is
// before t, soonest first, whatever their state: the garbage collector
// moves those still suspended to expired (Transition) and deletes the ones
// already final. Continuations without an expiry never appear.
func (s *Store) ExpiredBefore(t time.Time) ([]ID, error) {
	var ids []ID
	limit := expiryLimit(t)
	err := s.view(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketExpiry).Cursor()
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			id, ok := idSuffix(k)
			if len(k) != 2*idKeyLen || !ok {
				return fmt.Errorf("%w: expiry index key %x is not a time and an id", ErrCorrupt, k)
			}
			if binary.BigEndian.Uint64(k) >= limit {
				break
			}
			ids = append(ids, id)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list continuations expired before %s: %w", t, err)
	}
	return ids, nil
}

// expiryLimit is t as an expiry index time, clamped to the index's range.
func expiryLimit(t time.Time) uint64 {
	switch {
	case !t.After(time.Unix(0, 0)):
		return 0
	case t.After(maxUnixNano):
		return math.MaxUint64
	}
	return uint64(t.UnixNano())
}
