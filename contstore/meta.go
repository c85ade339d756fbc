package contstore

import (
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// SetMeta stores value under key in the meta bucket, for whatever the
// supervisor keeps beside the records (its boot id, say). The key
// "schema-version" is the store's own and refused.
func (s *Store) SetMeta(key string, value []byte) error {
	if err := validName("key", key); err != nil {
		return fmt.Errorf("set meta %q: %w", key, err)
	}
	if key == metaSchemaKey {
		return fmt.Errorf("set meta %q: %w", key, invalid("key", "reserved for the store's schema version"))
	}
	val := append([]byte{}, value...) // bbolt keeps the slice until commit
	err := s.update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMeta).Put([]byte(key), val)
	})
	if err != nil {
		return fmt.Errorf("set meta %q: %w", key, err)
	}
	return nil
}

// GetMeta returns the value stored under key, or an error wrapping
// ErrNotFound.
func (s *Store) GetMeta(key string) ([]byte, error) {
	var val []byte
	err := s.view(func(tx *bolt.Tx) error {
		v, ok := lookup(tx.Bucket(bucketMeta), []byte(key))
		if !ok {
			return ErrNotFound
		}
		val = append([]byte{}, v...)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("get meta %q: %w", key, err)
	}
	return val, nil
}
