package contstore

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/migrate-run/migrate/fdpass"
)

// openFDs counts this process's open descriptors.
func openFDs(t testing.TB) int {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(entries)
}

// checkNoFDLeak fails the test if, once every later cleanup has run, more or
// fewer descriptors are open than now.
func checkNoFDLeak(t testing.TB) {
	t.Helper()
	before := openFDs(t)
	t.Cleanup(func() {
		if after := openFDs(t); after != before {
			t.Errorf("%d descriptors open before the test, %d after", before, after)
		}
	})
}

// newTestStore opens a fresh store in a temporary directory. When the test
// ends it checks the store's consistency (Check: bbolt's tx.Check and the
// package's invariants), closes it, and checks that no descriptor leaked.
func newTestStore(t testing.TB) *Store {
	t.Helper()
	checkNoFDLeak(t)
	return openStore(t, filepath.Join(t.TempDir(), "cont.db"), Options{})
}

// openStore opens path and registers the consistency check and Close as a
// cleanup. A store the test closed itself is reopened read-only to be
// checked.
func openStore(t testing.TB, path string, opts Options) *Store {
	t.Helper()
	s, err := Open(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		err := s.Check()
		if errors.Is(err, ErrClosed) {
			var ro *Store
			if ro, err = Open(path, Options{ReadOnly: true}); err == nil {
				s, err = ro, ro.Check()
			}
		}
		if err != nil {
			t.Errorf("store inconsistent after the test: %v", err)
		}
		_ = s.Close()
	})
	return s
}

// putSession registers a new session of app and returns the ID the store
// gave it.
func putSession(t testing.TB, s *Store, app string) SessionID {
	t.Helper()
	sess := Session{App: app, State: SessionActive, Conn: tcpDesc(51000)}
	if err := s.PutSession(&sess); err != nil {
		t.Fatal(err)
	}
	return sess.ID
}

func tcpDesc(peerPort int) fdpass.Description {
	return fdpass.Description{
		Kind: fdpass.KindTCP, Dev: 0x8, Ino: 1234567, Mode: 0o140777, Flags: 0x802,
		Path: "socket:[1234567]", Family: "inet", SockType: "stream",
		Local: "10.0.0.1:2222", Peer: fmt.Sprintf("10.0.0.7:%d", peerPort),
	}
}

func ptyDesc() fdpass.Description {
	return fdpass.Description{
		Kind: fdpass.KindPTYSlave, Dev: 0x19, Ino: 6, Rdev: 0x8803, Mode: 0o20620, Flags: 0x2,
		Path: "/dev/pts/3",
	}
}

func logDesc() fdpass.Description {
	return fdpass.Description{
		Kind: fdpass.KindFile, Dev: 0xfe00, Ino: 98765, Mode: 0o100644, Flags: 0x401,
		Offset: 8192, Path: "/var/log/sshd-session.log",
	}
}

// sampleStore is an attribute/value store of about size bytes that looks
// like what a server keeps for a session: a few scalars and a buffer of
// text, deterministic in seed.
func sampleStore(seed uint64, size int) []Entry {
	r := rand.New(rand.NewPCG(seed, 42))
	words := []string{"user", "window", "forward", "x11", "port", "channel", "auth", "publickey", "pty", "resize", "env", "LANG=C.UTF-8"}
	var buf strings.Builder
	for buf.Len() < size {
		fmt.Fprintf(&buf, "%d %s %s %d\n", r.IntN(100000), words[r.IntN(len(words))], words[r.IntN(len(words))], r.IntN(1<<16))
	}
	return []Entry{
		{Key: "user", Value: []byte("alice")},
		{Key: "index", Value: fmt.Appendf(nil, "%d", r.IntN(1<<30))},
		{Key: "forward.ports", Value: []byte("6010,8080"), Exported: true},
		{Key: "binary", Value: []byte{0, 1, 2, 0xff, 0xfe}},
		{Key: "scrollback", Value: []byte(buf.String())},
	}
}

// fullContinuation is a complete continuation with every field set, as an
// sshd session would leave it: the connection (held 0), a pty on 0-2
// collapsed into one held descriptor (1), a log file (2), a 4 KiB store.
func fullContinuation(app string, session SessionID) Continuation {
	umask, oom := uint32(0o022), 100
	created := time.Date(2026, 11, 26, 4, 0, 0, 123456789, time.UTC)
	return Continuation{
		App: app, Session: session, Kind: KindComplete, State: StateSuspended,
		Created: created, Expires: created.Add(time.Hour), OldPID: 4242,
		Exec: &specs.Process{
			User:            specs.User{UID: 1000, GID: 1000, Umask: &umask, AdditionalGids: []uint32{4, 27}},
			Args:            []string{"/usr/sbin/sshd", "-D", "-R", "--resume"},
			Env:             []string{"PATH=/usr/bin:/bin", "LANG=C.UTF-8", "EMPTY="},
			Cwd:             "/home/alice",
			Rlimits:         []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Hard: 4096, Soft: 1024}},
			NoNewPrivileges: true,
			OOMScoreAdj:     &oom,
		},
		SigMask: 1<<(2-1) | 1<<(13-1), // SIGINT, SIGPIPE
		Slots: []Slot{
			{Name: "stdin", Role: "stdio", Number: 0, Desc: ptyDesc(), Held: 1},
			{Name: "stdout", Role: "stdio", Number: 1, Desc: ptyDesc(), Held: 1},
			{Name: "stderr", Role: "stdio", Number: 2, Desc: ptyDesc(), Held: 1},
			{Name: "conn", Role: "conn", Number: 3, Desc: tcpDesc(51234), Held: 0},
			{Name: "log", Role: "log", Number: 7, Desc: logDesc(), Held: 2},
		},
		FDsAfter:  3,
		Store:     sampleStore(1, 4096),
		Compat:    []Tag{{ID: 1, Name: "sshd.version", Value: "9.6p1"}, {ID: 2, Name: "x11-forwarding", Value: "yes"}},
		DependsOn: []SessionID{session + 1000},
		Note:      "client vanished",
	}
}

// smallContinuation is a system continuation holding one TCP connection.
func smallContinuation(app string, session SessionID, state State) Continuation {
	return Continuation{
		App: app, Session: session, Kind: KindSystem, State: state,
		Slots:    []Slot{{Name: "conn", Number: 3, Desc: tcpDesc(50000), Held: 0}},
		FDsAfter: 1,
		Store:    []Entry{{Key: "i", Value: []byte("1")}},
	}
}

// crashSessions are the sessions the crash-writer child's records belong
// to; the parent stores them with these IDs first.
const crashSessions = 4

// crashRecord is the record the crash-writer child puts as number seq (the
// store assigns its ID), rebuilt by the parent from seq.
func crashRecord(seq int) Continuation {
	c := smallContinuation("crash", SessionID(seq%crashSessions+1), StateSuspended)
	c.Created = time.Date(2026, 11, 26, 4, 0, 0, 0, time.UTC).Add(time.Duration(seq) * time.Millisecond)
	c.Expires = c.Created.Add(time.Duration(seq) * time.Minute)
	c.Store = sampleStore(uint64(seq), 1024+seq%3000)
	c.Note = fmt.Sprintf("record %d", seq)
	return c
}

// mustPut puts c and fails the test on error.
func mustPut(t testing.TB, s *Store, c Continuation) Continuation {
	t.Helper()
	if err := s.Put(&c); err != nil {
		t.Fatal(err)
	}
	return c
}

// fileBytes returns the file's contents, to show an operation changed
// nothing.
func fileBytes(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
