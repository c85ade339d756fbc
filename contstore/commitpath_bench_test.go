package contstore

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	bolt "go.etcd.io/bbolt"
)

// counterContinuation is what the supervisor stores when counter-server
// suspends (supervisor/returncont.go buildRecord): a complete continuation
// with the client connection, the next number, the app's compatibility
// tags, an exec description defaulted from the process (its whole
// environment, here this test process's own) and an expiry.
func counterContinuation(session SessionID, next int) Continuation {
	now := time.Now()
	return Continuation{
		App: "counter", Session: session, Kind: KindComplete, State: StateSuspended,
		Created: now, Expires: now.Add(time.Hour), OldPID: 31337,
		Exec: &specs.Process{
			User: specs.User{UID: 0, GID: 0, AdditionalGids: []uint32{0}},
			Args: []string{"/tmp/migrate-bin/counter-server", "serve"},
			Env:  os.Environ(),
			Cwd:  "/work/main/tests",
		},
		Slots:    []Slot{{Name: "client", Role: "session", Number: 3, Desc: tcpDesc(40000 + next%20000), Held: 0}},
		FDsAfter: 1,
		Store:    []Entry{{Key: "next", Value: []byte(strconv.Itoa(next))}},
		Compat:   []Tag{{ID: 1, Name: "counter.protocol", Value: "1"}},
		Note:     "counter",
	}
}

// BenchmarkCommitCounter is the store's part of a same-host suspend and
// resume of counter-server, as the supervisor makes it, one cycle per op:
// PutMarking (continuation stored, session suspended: the report's
// "continuation commit"), Transition suspended → resuming, TransitionMarking
// resuming → resumed (session active: the "confirm commit"). Records of
// earlier cycles stay, as resumed ones do until the collector removes them.
// Each cycle also makes one bare bbolt commit (BenchmarkCommitFloor's) in a
// second file, so that the floor is measured under the same load; the
// metrics are per-call medians in µs: put-µs, confirm-µs, floor-µs, and
// encode-µs, the part of PutMarking done before its transaction.
func BenchmarkCommitCounter(b *testing.B) {
	dir := b.TempDir()
	s, err := Open(filepath.Join(dir, "bench.db"), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	floor, err := bolt.Open(filepath.Join(dir, "floor.db"), 0o600, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer floor.Close()
	sess := Session{App: "counter", State: SessionActive, Conn: tcpDesc(40000)}
	if err := s.PutSession(&sess); err != nil {
		b.Fatal(err)
	}
	var put, confirm, bare, encode []time.Duration
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		c := counterContinuation(sess.ID, i)
		t0 := time.Now()
		if _, _, err := newRecord(&c); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if err := s.PutMarking(&c, SessionSuspended); err != nil {
			b.Fatal(err)
		}
		t2 := time.Now()
		if err := s.Transition(c.ID, StateSuspended, StateResuming); err != nil {
			b.Fatal(err)
		}
		t3 := time.Now()
		if err := s.TransitionMarking(c.ID, StateResuming, StateResumed, SessionActive); err != nil {
			b.Fatal(err)
		}
		t4 := time.Now()
		if err := floorCommit(floor, i); err != nil {
			b.Fatal(err)
		}
		t5 := time.Now()
		encode, put = append(encode, t1.Sub(t0)), append(put, t2.Sub(t1))
		confirm, bare = append(confirm, t4.Sub(t3)), append(bare, t5.Sub(t4))
	}
	b.ReportMetric(medianMicros(put), "put-µs")
	b.ReportMetric(medianMicros(confirm), "confirm-µs")
	b.ReportMetric(medianMicros(bare), "floor-µs")
	b.ReportMetric(medianMicros(encode), "encode-µs")
}

func medianMicros(d []time.Duration) float64 {
	slices.Sort(d)
	return float64(d[len(d)/2]) / float64(time.Microsecond)
}

// floorCommit is one small Put in a bare bbolt Update, bbolt's defaults.
func floorCommit(db *bolt.DB, i int) error {
	return db.Update(func(tx *bolt.Tx) error {
		bk, err := tx.CreateBucketIfNotExists([]byte("b"))
		if err != nil {
			return err
		}
		return bk.Put([]byte("k"), []byte{byte(i)})
	})
}

// BenchmarkCommitFloor is the floor the commits above are measured
// against: one small Put in a bare bbolt Update, fsync'd, with bbolt's
// default options.
func BenchmarkCommitFloor(b *testing.B) {
	db, err := bolt.Open(filepath.Join(b.TempDir(), "floor.db"), 0o600, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	for i := 0; b.Loop(); i++ {
		if err := floorCommit(db, i); err != nil {
			b.Fatal(err)
		}
	}
}
