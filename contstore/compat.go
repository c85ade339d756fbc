package contstore

import (
	"encoding/json"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// PutCompat registers app's compatibility vector (the paper's
// register_compat_vector), replacing the previous one. An app that keeps one
// vector per version registers under "name@version". Tag IDs must be unique
// and names non-empty; a failed PutCompat writes nothing.
func (s *Store) PutCompat(app string, tags []Tag) error {
	if err := validName("app", app); err != nil {
		return fmt.Errorf("put compat vector of %q: %w", app, err)
	}
	if err := validateTags("tags", tags); err != nil {
		return fmt.Errorf("put compat vector of %q: %w", app, err)
	}
	if tags == nil {
		tags = []Tag{}
	}
	val, err := json.Marshal(tags)
	if err != nil {
		return fmt.Errorf("put compat vector of %q: %w", app, err)
	}
	err = s.update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketCompat).Put([]byte(app), val)
	})
	if err != nil {
		return fmt.Errorf("put compat vector of %q: %w", app, err)
	}
	return nil
}

// GetCompat returns app's registered compatibility vector, or an error
// wrapping ErrNotFound if none is registered.
func (s *Store) GetCompat(app string) ([]Tag, error) {
	var tags []Tag
	err := s.view(func(tx *bolt.Tx) error {
		val := tx.Bucket(bucketCompat).Get([]byte(app))
		if val == nil {
			return ErrNotFound
		}
		var err error
		tags, err = decodeTags(val)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("get compat vector of %q: %w", app, err)
	}
	return tags, nil
}

func decodeTags(val []byte) ([]Tag, error) {
	var tags []Tag
	if err := json.Unmarshal(val, &tags); err != nil {
		return nil, fmt.Errorf("%w: compat vector: %v", ErrCorrupt, err)
	}
	return tags, nil
}
