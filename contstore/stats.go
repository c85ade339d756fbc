package contstore

import (
	"bytes"
	"fmt"
	"os"

	bolt "go.etcd.io/bbolt"
)

// Stats is a snapshot of the store's contents.
type Stats struct {
	Continuations int           // stored continuations, any state
	ByState       map[State]int // continuations per state; absent states are 0
	Sessions      int           // stored sessions
	// StoreRawBytes and StoreCompressedBytes add up the continuations'
	// attribute/value stores before and after compression.
	StoreRawBytes        int64
	StoreCompressedBytes int64
	// FileBytes is the size of the file on disk, free pages included.
	FileBytes int64
	// TxID is the id of the last committed write transaction; every commit
	// adds one, so the difference between two snapshots counts commits.
	TxID int
}

// Stats counts the store's contents. It reads the framing of every record
// but decodes and decompresses nothing.
func (s *Store) Stats() (Stats, error) {
	st := Stats{ByState: make(map[State]int)}
	err := s.view(func(tx *bolt.Tx) error {
		st.TxID = tx.ID()
		err := tx.Bucket(bucketByState).ForEach(func(k, _ []byte) error {
			st.ByState[State(k[:max(bytes.IndexByte(k, 0), 0)])]++
			return nil
		})
		if err != nil {
			return err
		}
		err = tx.Bucket(bucketContinuations).ForEach(func(k, v []byte) error {
			f, err := unframe(v)
			if err != nil {
				return fmt.Errorf("continuation %s: %w", keyName(k), err)
			}
			st.Continuations++
			st.StoreRawBytes += int64(f.rawLen)
			st.StoreCompressedBytes += int64(len(f.packed))
			return nil
		})
		if err != nil {
			return err
		}
		st.Sessions = tx.Bucket(bucketSessions).Stats().KeyN
		return nil
	})
	if err != nil {
		return Stats{}, fmt.Errorf("stats of store %s: %w", s.path, err)
	}
	info, err := os.Stat(s.path)
	if err != nil {
		return Stats{}, fmt.Errorf("stats of store %s: %w", s.path, err)
	}
	st.FileBytes = info.Size()
	return st, nil
}
