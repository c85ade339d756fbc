package contstore

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
)

func TestOpenTornMetaPage(t *testing.T) {
	// A meta page that only fails its checksum is what a crash during the
	// meta write leaves: bbolt falls back to the other meta page, that is to
	// the commit before, which is the last one acknowledged.
	for _, newest := range []bool{true, false} {
		path := filepath.Join(t.TempDir(), "cont.db")
		put := makeStore(t, path, 3)
		content := fileBytes(t, path)
		ps := os.Getpagesize()
		m0, m1 := parseMeta(content[:ps]), parseMeta(content[ps:2*ps])
		victim := 0
		if (m1.txid > m0.txid) == newest {
			victim = 1
		}
		content[victim*ps+pageHeaderSize+56] ^= 0xff
		if err := os.WriteFile(path, content, 0o600); err != nil {
			t.Fatal(err)
		}
		s := openStore(t, path, Options{Check: true})
		want := len(put)
		if newest {
			want-- // the last Put was the last commit
		}
		if got := listIDs(t, s, Filter{}); len(got) != want {
			t.Errorf("torn newest=%v: %d continuations after reopening, want %d", newest, len(got), want)
		}
	}
}

func TestCorruptRecordsAndIndexes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cont.db")
	put := makeStore(t, path, 3)
	garbled, unindexed, fine := put[0], put[1], put[2]
	editRaw(t, path, func(tx *bolt.Tx) error {
		if err := tx.Bucket(bucketContinuations).Put(garbled.ID.key(), []byte{recordFormat, 0, 5, '{', 'n', 'o', 'p', 'e'}); err != nil {
			return err
		}
		return tx.Bucket(bucketExpiry).Delete(expiryKey(unindexed.Expires, unindexed.ID))
	})
	checkNoFDLeak(t)

	if _, err := Open(path, Options{Check: true}); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Open with Check: %v, want ErrCorrupt", err)
	}
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatalf("Open without Check: %v", err)
	}
	defer s.Close()
	if _, err := s.Get(garbled.ID); !errors.Is(err, ErrCorrupt) {
		t.Errorf("Get of a garbled record: %v, want ErrCorrupt", err)
	}
	if got, err := s.Get(fine.ID); err != nil || got.ID != fine.ID {
		t.Errorf("Get of an intact record: %v", err)
	}
	err = s.Check()
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Check: %v, want ErrCorrupt", err)
	}
	for _, want := range []string{"continuation " + garbled.ID.String() + ": store is corrupt: record JSON", unindexed.ID.String() + ": no expiry index entry", "index by-state holds 3 entries, the continuations own 2"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Check error %q does not mention %q", err, want)
		}
	}
}

func TestBadKeysAndSequences(t *testing.T) {
	// Keys that are not 8-byte non-zero ids, and sequences that fell behind
	// the keys (so the next assigned id would be taken): Check reports each,
	// and Put and PutSession refuse to assign a taken id rather than
	// overwrite a record.
	path := filepath.Join(t.TempDir(), "cont.db")
	put := makeStore(t, path, 3)
	editRaw(t, path, func(tx *bolt.Tx) error {
		conts, sessions := tx.Bucket(bucketContinuations), tx.Bucket(bucketSessions)
		val := bytes.Clone(conts.Get(put[2].ID.key()))
		for _, err := range []error{
			conts.Put([]byte{1, 2, 3}, val),
			conts.SetSequence(1),
			sessions.Put(u64Key(0), []byte(`{"app":"sshd","state":"active"}`)),
			sessions.SetSequence(0),
		} {
			if err != nil {
				return err
			}
		}
		return nil
	})
	checkNoFDLeak(t)
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	err = s.Check()
	for _, want := range []string{
		"continuation key 010203 is not an id",
		"session key 0000000000000000 is not an id",
		"continuations sequence 1 is below the largest id 3",
		"sessions sequence 0 is below the largest id 1",
	} {
		if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), want) {
			t.Errorf("Check: %v; want ErrCorrupt mentioning %q", err, want)
		}
	}
	if _, err := s.List(Filter{}); !errors.Is(err, ErrCorrupt) {
		t.Errorf("List over a bad key: %v, want ErrCorrupt", err)
	}
	if _, err := s.ListSessions(""); !errors.Is(err, ErrCorrupt) {
		t.Errorf("ListSessions over a bad key: %v, want ErrCorrupt", err)
	}
	file := fileBytes(t, path)
	c := smallContinuation("sshd", put[0].Session, StateSuspended)
	if err := s.Put(&c); !errors.Is(err, ErrCorrupt) || c.ID != 0 {
		t.Errorf("Put when the next id is taken: %v, ID %s; want ErrCorrupt", err, c.ID)
	}
	sess := Session{App: "sshd", State: SessionActive}
	if err := s.PutSession(&sess); !errors.Is(err, ErrCorrupt) {
		t.Errorf("PutSession when the next id is taken: %v, want ErrCorrupt", err)
	}
	if got, err := s.Get(put[1].ID); err != nil || !reflect.DeepEqual(got, put[1]) {
		t.Errorf("the record under the taken id: %v; want it unchanged", err)
	}
	if !bytes.Equal(file, fileBytes(t, path)) {
		t.Error("refused writes changed the file")
	}
}

func TestDamagedPagesNeverCrash(t *testing.T) {
	// Random bytes over the data pages (the meta pages intact, so the file
	// passes Open's own checks): every operation must end in an error, not
	// in a panic or a fault.
	path := filepath.Join(t.TempDir(), "cont.db")
	makeStore(t, path, 30)
	content := fileBytes(t, path)
	ps := os.Getpagesize()
	r := rand.New(rand.NewPCG(1, 2))
	for seed := range 8 {
		damaged := bytes.Clone(content)
		for p := 2; p < len(content)/ps; p++ {
			if r.IntN(3) == 0 || seed == 0 {
				for i := p * ps; i < (p+1)*ps; i++ {
					damaged[i] = byte(r.Uint32())
				}
			}
		}
		bad := filepath.Join(t.TempDir(), "bad.db")
		if err := os.WriteFile(bad, damaged, 0o600); err != nil {
			t.Fatal(err)
		}
		s, err := Open(bad, Options{ReadOnly: true})
		if err != nil {
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrSchema) {
				t.Errorf("seed %d: Open: %v, want ErrCorrupt or ErrSchema", seed, err)
			}
			t.Logf("seed %d: Open: %v", seed, err)
			continue
		}
		_, listErr := s.List(Filter{})
		checkErr := s.Check()
		s.Close()
		if checkErr == nil || !errors.Is(checkErr, ErrCorrupt) {
			t.Errorf("seed %d: Check on damaged pages: %v, want ErrCorrupt", seed, checkErr)
		}
		t.Logf("seed %d: List: %v", seed, listErr)
	}
}

func TestOpenSchemaMismatch(t *testing.T) {
	dir := t.TempDir()
	future := filepath.Join(dir, "future.db")
	makeStore(t, future, 1)
	editRaw(t, future, func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMeta).Put([]byte(metaSchemaKey), []byte("99"))
	})
	// A version 1 store (ULID and string keys) is refused, not misread.
	v1 := filepath.Join(dir, "v1.db")
	makeStore(t, v1, 1)
	editRaw(t, v1, func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMeta).Put([]byte(metaSchemaKey), []byte("1"))
	})
	foreign := filepath.Join(dir, "foreign.db")
	editRaw(t, foreign, func(tx *bolt.Tx) error {
		_, err := tx.CreateBucket([]byte("widgets"))
		return err
	})
	for path, found := range map[string]int{future: 99, v1: 1, foreign: 0} {
		content := fileBytes(t, path)
		for _, ro := range []bool{true, false} {
			_, err := Open(path, Options{ReadOnly: ro})
			var serr *SchemaError
			if !errors.As(err, &serr) || !errors.Is(err, ErrSchema) || serr.Found != found || serr.Supported != SchemaVersion {
				t.Errorf("Open(%s, ReadOnly %v): %v, want a *SchemaError found %d", filepath.Base(path), ro, err, found)
			}
		}
		if !bytes.Equal(content, fileBytes(t, path)) {
			t.Errorf("Open changed %s", filepath.Base(path))
		}
	}

	missing := filepath.Join(dir, "missing-bucket.db")
	makeStore(t, missing, 1)
	editRaw(t, missing, func(tx *bolt.Tx) error { return tx.DeleteBucket(bucketExpiry) })
	if _, err := Open(missing, Options{}); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "expiry") {
		t.Errorf("Open without the expiry bucket: %v, want ErrCorrupt naming it", err)
	}
}

func TestWildPageIDsFaultIntoErrors(t *testing.T) {
	// A branch page whose child id points past the end of the file (SIGBUS
	// inside the mapping) or far beyond it (SIGSEGV): the fault guard must
	// turn both into ErrCorrupt.
	path := filepath.Join(t.TempDir(), "cont.db")
	makeStore(t, path, 30)
	content := fileBytes(t, path)
	ps := os.Getpagesize()
	const branchFlag = 0x01
	var branches []int
	for p := 2; p < len(content)/ps; p++ {
		if binary.NativeEndian.Uint64(content[p*ps:]) == uint64(p) && binary.NativeEndian.Uint16(content[p*ps+8:]) == branchFlag {
			branches = append(branches, p)
		}
	}
	if len(branches) == 0 {
		t.Fatal("no branch page in a store of 30 records")
	}
	// One page more than the file has makes bbolt map twice as much (it
	// rounds the mapping up to a power of two), so a page just past the end
	// of the file is mapped and reading it raises SIGBUS.
	content = append(content, make([]byte, ps)...)
	for name, child := range map[string]uint64{
		"past the end of the file": uint64(len(content)/ps + 2),
		"far beyond the mapping":   1 << 40,
	} {
		damaged := bytes.Clone(content)
		for _, p := range branches {
			// The first branch element: pos u32, ksize u32, pgid u64.
			binary.NativeEndian.PutUint64(damaged[p*ps+pageHeaderSize+8:], child)
		}
		bad := filepath.Join(t.TempDir(), "bad.db")
		if err := os.WriteFile(bad, damaged, 0o600); err != nil {
			t.Fatal(err)
		}
		s, err := Open(bad, Options{ReadOnly: true})
		if err != nil {
			t.Fatalf("%s: Open: %v", name, err)
		}
		_, listErr := s.List(Filter{})
		checkErr := s.Check()
		s.Close()
		if !errors.Is(listErr, ErrCorrupt) || !errors.Is(checkErr, ErrCorrupt) {
			t.Errorf("%s: List: %v; Check: %v; want ErrCorrupt from both", name, listErr, checkErr)
		}
		t.Logf("%s: %v", name, listErr)
	}
}
