//go:build linux

package fdpass

import (
	"errors"
	"testing"

	"golang.org/x/sys/unix"
)

func TestSameFile(t *testing.T) {
	noLeaks(t)
	path := tempFile(t, "content")
	f := open(t, path, unix.O_RDONLY)
	again := open(t, path, unix.O_RDONLY)
	r, w := pipe(t)
	e1 := anonFD(func() (int, error) { return unix.Eventfd(0, unix.EFD_CLOEXEC) })(t)
	e2 := anonFD(func() (int, error) { return unix.Eventfd(0, unix.EFD_CLOEXEC) })(t)
	tests := []struct {
		name string
		a, b int
		want bool
	}{
		{"a descriptor and itself", f, f, true},
		{"a dup", f, dup(t, f), true},
		{"two opens of one file", f, again, false},
		{"two ends of one pipe (one inode)", r, w, false},
		{"two eventfds (one anonymous inode)", e1, e2, false},
		{"a file and a pipe", f, r, false},
	}
	for _, tt := range tests {
		if got := mustSame(t, tt.a, tt.b); got != tt.want {
			t.Errorf("%s: SameFile = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestSameFileClosedFD(t *testing.T) {
	r, w := pipe(t)
	unix.Close(w)
	if _, err := SameFile(r, w); !errors.Is(err, ErrBadFD) {
		t.Fatalf("SameFile(open, closed) = %v, want ErrBadFD", err)
	}
}

// withoutKcmp makes kcmp fail with errno for the rest of the test.
func withoutKcmp(t *testing.T, errno unix.Errno) {
	saved := kcmp
	kcmp = func(int, int) (int, error) { return 0, errno }
	t.Cleanup(func() { kcmp = saved })
}

// TestSameFileFallback runs SameFile as on a kernel without kcmp (ENOSYS)
// or with kcmp forbidden (EPERM): the answers that the fallback can give
// exactly must match kcmp's.
func TestSameFileFallback(t *testing.T) {
	for _, errno := range []unix.Errno{unix.ENOSYS, unix.EPERM} {
		t.Run(errno.Error(), func(t *testing.T) {
			noLeaks(t)
			path := tempFile(t, "content")
			f := open(t, path, unix.O_RDONLY)
			moved := open(t, path, unix.O_RDONLY)
			if _, err := unix.Seek(moved, 2, 0); err != nil {
				t.Fatal(err)
			}
			writer := open(t, path, unix.O_WRONLY)
			r, w := pipe(t)
			e1 := anonFD(func() (int, error) { return unix.Eventfd(0, unix.EFD_CLOEXEC) })(t)
			e2 := anonFD(func() (int, error) { return unix.Eventfd(0, unix.EFD_CLOEXEC) })(t)
			withoutKcmp(t, errno)
			tests := []struct {
				name string
				a, b int
				want bool
			}{
				{"a dup", f, dup(t, f), true},
				{"a dup of a pipe", r, dup(t, r), true},
				{"opens at different offsets", f, moved, false},
				{"opens with different flags", f, writer, false},
				{"two ends of one pipe", r, w, false},
				{"two eventfds", e1, e2, false},
			}
			for _, tt := range tests {
				if got := mustSame(t, tt.a, tt.b); got != tt.want {
					t.Errorf("%s: SameFile = %v, want %v", tt.name, got, tt.want)
				}
			}
			unix.Close(w)
			if _, err := SameFile(r, w); !errors.Is(err, ErrBadFD) {
				t.Errorf("SameFile(open, closed) = %v, want ErrBadFD", err)
			}
		})
	}
}

// TestSameFileFallbackImprecision pins the documented limit of the
// fallback: two fresh opens of one file, same flags, same offset, look like
// one open file description. kcmp tells them apart.
func TestSameFileFallbackImprecision(t *testing.T) {
	noLeaks(t)
	path := tempFile(t, "content")
	a := open(t, path, unix.O_RDONLY)
	b := open(t, path, unix.O_RDONLY)
	if mustSame(t, a, b) {
		t.Fatal("kcmp: two opens are one open file description")
	}
	withoutKcmp(t, unix.ENOSYS)
	if !mustSame(t, a, b) {
		t.Fatal("the fallback told two fresh opens apart; update the documentation of sameFileByStat")
	}
}

// TestSameFileOtherKcmpError checks an unexpected kcmp error is reported,
// not papered over by the fallback.
func TestSameFileOtherKcmpError(t *testing.T) {
	withoutKcmp(t, unix.EINVAL)
	if _, err := SameFile(0, 0); !errors.Is(err, unix.EINVAL) {
		t.Fatalf("SameFile with kcmp failing EINVAL = %v, want EINVAL", err)
	}
}
