package contstore

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/sys/unix"
)

// makeStore creates a store at path holding n full continuations and
// closes it; it returns what it put.
func makeStore(t *testing.T, path string, n int) []Continuation {
	t.Helper()
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s1 := putSession(t, s, "sshd")
	var out []Continuation
	for range n {
		out = append(out, mustPut(t, s, fullContinuation("sshd", s1)))
	}
	return out
}

// editRaw changes the file with bbolt directly, behind the package's back.
func editRaw(t *testing.T, path string, fn func(tx *bolt.Tx) error) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(fn); err != nil {
		t.Fatal(err)
	}
}

func TestOpenLockedByAnotherProcess(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cont.db")
	makeStore(t, path, 1)
	checkNoFDLeak(t)
	holder := startChild(t, "hold-lock", childPathEnv+"="+path)
	if line, err := bufio.NewReader(holder.stdout).ReadString('\n'); err != nil || line != "locked\n" {
		t.Fatalf("child said %q, %v; want locked", line, err)
	}
	exe, _ := os.Executable()
	comm := filepath.Base(exe)
	comm = comm[:min(len(comm), 15)] // the kernel's TASK_COMM_LEN
	const timeout = 300 * time.Millisecond
	for _, ro := range []bool{false, true} {
		start := time.Now()
		_, err := Open(path, Options{Timeout: timeout, ReadOnly: ro})
		waited := time.Since(start)
		var lerr *LockedError
		if !errors.As(err, &lerr) || !errors.Is(err, ErrLocked) {
			t.Fatalf("Open(ReadOnly %v) beside a writer: %v, want a *LockedError", ro, err)
		}
		if lerr.PID != holder.cmd.Process.Pid || lerr.Command != comm || lerr.Path != path {
			t.Errorf("LockedError %+v, want pid %d (%s) on %s", lerr, holder.cmd.Process.Pid, comm, path)
		}
		if waited < timeout || waited > timeout+2*time.Second {
			t.Errorf("Open gave up after %s, want about %s", waited, timeout)
		}
	}
	holder.stdin.Close()
	if err := holder.cmd.Wait(); err != nil {
		t.Fatalf("lock holder: %v", err)
	}
	s := openStore(t, path, Options{Timeout: -1})
	if list, err := s.List(Filter{}); err != nil || len(list) != 1 {
		t.Errorf("after the holder left: %d continuations, %v", len(list), err)
	}
}

func TestOpenLockedInProcess(t *testing.T) {
	s := newTestStore(t)
	for _, ro := range []bool{false, true} {
		start := time.Now()
		_, err := Open(s.Path(), Options{Timeout: -1, ReadOnly: ro})
		var lerr *LockedError
		if !errors.As(err, &lerr) || lerr.PID != os.Getpid() {
			t.Errorf("second Open(ReadOnly %v) in this process: %v, want a *LockedError naming pid %d", ro, err, os.Getpid())
		}
		if waited := time.Since(start); waited > time.Second {
			t.Errorf("a negative timeout waited %s, want one try", waited)
		}
	}
}

func TestOpenCorruptFiles(t *testing.T) {
	dir := t.TempDir()
	valid := filepath.Join(dir, "valid.db")
	makeStore(t, valid, 20)
	good := fileBytes(t, valid)
	pageSize := os.Getpagesize()
	random := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(i*7919 + i>>8)
		}
		return b
	}
	// withMeta returns a copy of base with meta page i edited.
	withMeta := func(base []byte, i int, edit func(meta []byte)) []byte {
		b := bytes.Clone(base)
		off := i*pageSize + pageHeaderSize
		edit(b[off : off+metaSize])
		return b
	}
	zero := func(meta []byte) { clear(meta) }
	breakSum := func(meta []byte) { meta[56] ^= 0xff }
	cases := map[string][]byte{
		"garbage":                random(64 << 10),
		"short garbage":          random(100),
		"truncated to half":      good[:len(good)/2],
		"truncated to one page":  good[:pageSize],
		"truncated to two pages": good[:2*pageSize],
		"meta page 0 zeroed":     withMeta(good, 0, zero),
		"meta page 1 zeroed":     withMeta(good, 1, zero),
		"both checksums broken":  withMeta(withMeta(good, 0, breakSum), 1, breakSum),
		"foreign format version": withMeta(good, 0, func(m []byte) { m[4] = 3 }),
	}
	for name, content := range cases {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "bad.db")
			if err := os.WriteFile(path, content, 0o600); err != nil {
				t.Fatal(err)
			}
			checkNoFDLeak(t)
			for _, ro := range []bool{true, false} {
				s, err := Open(path, Options{ReadOnly: ro})
				if !errors.Is(err, ErrCorrupt) {
					if s != nil {
						s.Close()
					}
					t.Fatalf("Open(ReadOnly %v): %v, want ErrCorrupt", ro, err)
				}
				t.Logf("ReadOnly %v: %v", ro, err)
			}
			if !bytes.Equal(content, fileBytes(t, path)) {
				t.Error("Open changed a corrupt file")
			}
		})
	}
}

func TestStoreFileIsCloseOnExec(t *testing.T) {
	s := newTestStore(t)
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	found := 0
	for _, fd := range fds {
		target, err := os.Readlink("/proc/self/fd/" + fd.Name())
		if err != nil || target != s.Path() {
			continue
		}
		found++
		info, err := os.ReadFile("/proc/self/fdinfo/" + fd.Name())
		if err != nil {
			t.Fatal(err)
		}
		var flags int64
		for _, line := range strings.Split(string(info), "\n") {
			if v, ok := strings.CutPrefix(line, "flags:"); ok {
				if flags, err = strconv.ParseInt(strings.TrimSpace(v), 8, 64); err != nil {
					t.Fatal(err)
				}
			}
		}
		if flags&unix.O_CLOEXEC == 0 {
			t.Errorf("descriptor %s on the store has flags %#o, without O_CLOEXEC", fd.Name(), flags)
		}
	}
	if found != 1 {
		t.Errorf("%d descriptors on the store, want 1", found)
	}
}
