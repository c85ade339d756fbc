package contstore

import (
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
)

// benchStore opens a store in a fresh directory with one session of app
// "sshd", and returns the store and the session.
func benchStore(b *testing.B) (*Store, SessionID) {
	b.Helper()
	s, err := Open(filepath.Join(b.TempDir(), "bench.db"), Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s, putSession(b, s, "sshd")
}

// putAll puts n copies of c from the given number of goroutines and returns
// them.
func putAll(b *testing.B, s *Store, c Continuation, n, writers int) []Continuation {
	out := make([]Continuation, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range writers {
		wg.Go(func() {
			for i := int(next.Add(1)) - 1; i < n; i = int(next.Add(1)) - 1 {
				out[i] = c
				if err := s.Put(&out[i]); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	return out
}

func txID(b testing.TB, s *Store) int {
	b.Helper()
	st, err := s.Stats()
	if err != nil {
		b.Fatal(err)
	}
	return st.TxID
}

// BenchmarkPut puts a full continuation (4 KiB store, exec description,
// five slots) from 1, 2 or 64 goroutines; ns/op is wall time per Put, and
// commits/op shows how many commits (two fdatasyncs each) a Put costs.
func BenchmarkPut(b *testing.B) {
	for _, writers := range []int{1, 2, 64} {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			s, s1 := benchStore(b)
			c := fullContinuation("sshd", s1)
			before := txID(b, s)
			b.ResetTimer()
			putAll(b, s, c, b.N, writers)
			b.StopTimer()
			b.ReportMetric(float64(txID(b, s)-before)/float64(b.N), "commits/op")
		})
	}
}

// BenchmarkGet reads one full continuation, store decompressed, from a
// store of 1000.
func BenchmarkGet(b *testing.B) {
	s, s1 := benchStore(b)
	put := putAll(b, s, fullContinuation("sshd", s1), 1000, 64)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if _, err := s.Get(put[i%len(put)].ID); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkList lists 1000 suspended continuations of one app, with their
// stores and without.
func BenchmarkList(b *testing.B) {
	s, s1 := benchStore(b)
	putAll(b, s, fullContinuation("sshd", s1), 1000, 64)
	for _, skip := range []bool{false, true} {
		b.Run(fmt.Sprintf("records=1000/skipstore=%v", skip), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				list, err := s.List(Filter{App: "sshd", State: StateSuspended, SkipStore: skip})
				if err != nil || len(list) != 1000 {
					b.Fatalf("List: %d, %v", len(list), err)
				}
			}
		})
	}
}
