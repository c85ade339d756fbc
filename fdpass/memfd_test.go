//go:build linux

package fdpass

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func sealedMemfd(t *testing.T, name string, data []byte) int {
	t.Helper()
	fd, err := NewSealedMemfd(name, data)
	if err != nil {
		t.Fatal(err)
	}
	closeLater(t, fd)
	return fd
}

func TestSealedMemfdRoundTrip(t *testing.T) {
	noLeaks(t)
	data := bytes.Repeat([]byte("state "), 100_000) // 600 kB, more than one message
	fd := sealedMemfd(t, "session-state", data)
	if !isCloexec(t, fd) {
		t.Error("memfd is not close-on-exec")
	}
	d, err := Describe(fd)
	if err != nil {
		t.Fatal(err)
	}
	if d.Kind != KindMemfd || !strings.HasPrefix(d.Path, "/memfd:session-state") {
		t.Errorf("memfd described as %+v", d)
	}

	// Passed to another process it reads back whole, and nothing the
	// holder does can change it.
	a, b := socketPair(t)
	if err := Send(a, message(1, "state"), []int{fd}); err != nil {
		t.Fatal(err)
	}
	_, fds, err := Recv(b, make([]byte, 16), 1, firstByte)
	if err != nil {
		t.Fatal(err)
	}
	closeLater(t, fds...)
	got, err := ReadSealedMemfd(fds[0], int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("read %d bytes, want the %d written", len(got), len(data))
	}
	if _, err := unix.Pwrite(fd, []byte("tamper"), 0); !errors.Is(err, unix.EPERM) {
		t.Errorf("write to sealed memfd = %v, want EPERM", err)
	}
	if err := unix.Ftruncate(fd, 1); !errors.Is(err, unix.EPERM) {
		t.Errorf("shrink sealed memfd = %v, want EPERM", err)
	}
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, unix.F_SEAL_EXEC); !errors.Is(err, unix.EPERM) {
		t.Errorf("add a seal to a memfd sealed with F_SEAL_SEAL = %v, want EPERM", err)
	}
	// ReadSealedMemfd used pread: the shared offset is still 0.
	if off, _ := unix.Seek(fd, 0, 1); off != 0 {
		t.Errorf("offset moved to %d", off)
	}
}

func TestSealedMemfdEmpty(t *testing.T) {
	noLeaks(t)
	got, err := ReadSealedMemfd(sealedMemfd(t, "empty", nil), 0)
	if err != nil || len(got) != 0 {
		t.Fatalf("ReadSealedMemfd(empty) = %q, %v", got, err)
	}
}

func TestReadSealedMemfdRefuses(t *testing.T) {
	noLeaks(t)
	memfd := func(seals int) int {
		fd, err := unix.MemfdCreate("partly", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
		if err != nil {
			t.Fatal(err)
		}
		closeLater(t, fd)
		if _, err := unix.Write(fd, []byte("data")); err != nil {
			t.Fatal(err)
		}
		if seals != 0 {
			if _, err := unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, seals); err != nil {
				t.Fatal(err)
			}
		}
		return fd
	}
	r, _ := pipe(t)
	shm := open(t, tempFileIn(t, "/dev/shm"), unix.O_RDWR)
	tests := []struct {
		name string
		fd   int
		max  int64
		want error
	}{
		{"unsealed memfd", memfd(0), 100, ErrNotSealed},
		{"memfd still writable", memfd(unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_SEAL), 100, ErrNotSealed},
		{"memfd still growable", memfd(unix.F_SEAL_SHRINK | unix.F_SEAL_WRITE), 100, ErrNotSealed},
		{"memfd without sealing", func() int {
			fd, err := unix.MemfdCreate("nosealing", unix.MFD_CLOEXEC)
			if err != nil {
				t.Fatal(err)
			}
			closeLater(t, fd)
			return fd
		}(), 100, ErrNotSealed},
		{"larger than the limit", sealedMemfd(t, "big", []byte("0123456789")), 9, ErrTooLarge},
		{"a pipe", r, 100, ErrNotMemfd},
		{"a tmpfs file (seals supported, not a memfd)", shm, 100, ErrNotMemfd},
		{"a regular file", open(t, tempFile(t, "x"), unix.O_RDONLY), 100, ErrNotMemfd},
	}
	for _, tt := range tests {
		got, err := ReadSealedMemfd(tt.fd, tt.max)
		if !errors.Is(err, tt.want) || got != nil {
			t.Errorf("%s: ReadSealedMemfd = %q, %v; want %v", tt.name, got, err, tt.want)
		}
	}
	if _, err := ReadSealedMemfd(sealedMemfd(t, "ok", []byte("0123456789")), 10); err != nil {
		t.Errorf("a memfd exactly at the limit: %v", err)
	}
	if _, err := ReadSealedMemfd(-1, 10); !errors.Is(err, ErrBadFD) {
		t.Errorf("ReadSealedMemfd(-1) = %v, want ErrBadFD", err)
	}
}

// tempFileIn makes a file in dir, removed at the end of the test.
func tempFileIn(t *testing.T, dir string) string {
	t.Helper()
	path := dir + "/fdpass-test-" + strings.ReplaceAll(t.Name(), "/", "-")
	fd, err := unix.Open(path, unix.O_CREAT|unix.O_EXCL|unix.O_RDWR|unix.O_CLOEXEC, 0o600)
	if err != nil {
		t.Skipf("create %s: %v", path, err)
	}
	unix.Close(fd)
	t.Cleanup(func() { unix.Unlink(path) })
	return path
}

func TestNewSealedMemfdBadName(t *testing.T) {
	noLeaks(t)
	fd, err := NewSealedMemfd(strings.Repeat("n", 250), []byte("x"))
	if err == nil || fd != -1 {
		t.Fatalf("NewSealedMemfd(250-byte name) = %d, %v; want -1 and an error", fd, err)
	}
}
