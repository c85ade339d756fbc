//go:build linux

package main

import (
	"context"
	"errors"
	"io"
	"os"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestNewStateIsGenerationOneAndCloseOnExec(t *testing.T) {
	checkFDs(t)
	st, err := openState(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if st.generation != 1 || st.restored {
		t.Errorf("fresh state: generation %d, restored %v; want 1, false", st.generation, st.restored)
	}
	if got := contentOf(t, st.file); got != "1\n" {
		t.Errorf("fresh state holds %q, want %q", got, "1\n")
	}
	flags, err := unix.FcntlInt(st.file.Fd(), unix.F_GETFD, 0)
	if err != nil || flags&unix.FD_CLOEXEC == 0 {
		t.Errorf("state memfd flags %#x (%v), want close-on-exec", flags, err)
	}
}

// TestPassedStateAdvancesInPlace: the service manager holds a duplicate of
// the memfd, so the new generation must be written into the same file.
func TestPassedStateAdvancesInPlace(t *testing.T) {
	checkFDs(t)
	held := memfdWith(t, "41\n")
	passed, err := dupFile(held)
	if err != nil {
		t.Fatal(err)
	}
	st, err := openState(passed)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if st.generation != 42 || !st.restored {
		t.Errorf("state after 41: generation %d, restored %v; want 42, true", st.generation, st.restored)
	}
	if got := contentOf(t, held); got != "42\n" {
		t.Errorf("the held duplicate reads %q, want %q", got, "42\n")
	}
}

func TestBadStateClosesThePassedDescriptor(t *testing.T) {
	checkFDs(t)
	passed, err := dupFile(memfdWith(t, "x\n"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := openState(passed); !errors.Is(err, errBadState) {
		t.Errorf("openState of %q: %v, want errBadState", "x\n", err)
	}
	// checkFDs fails the test if openState left passed open.
}

func TestReadGeneration(t *testing.T) {
	for _, tc := range []struct {
		content string
		want    uint64 // 0: an error
	}{
		{"1\n", 1},
		{"12345\n", 12345},
		{"18446744073709551615\n", 18446744073709551615},
		{"", 0},
		{"\n", 0},
		{"0\n", 0},
		{"7", 0},
		{"7\n\n", 0},
		{" 7\n", 0},
		{"+7\n", 0},
		{"-7\n", 0},
		{"07\n", 0},
		{"18446744073709551616\n", 0},
		{strings.Repeat("0", 20) + "1\n", 0},
	} {
		got, err := readGeneration(memfdWith(t, tc.content))
		if tc.want == 0 && err == nil {
			t.Errorf("readGeneration(%q) = %d, want an error", tc.content, got)
		}
		if tc.want != 0 && (err != nil || got != tc.want) {
			t.Errorf("readGeneration(%q) = %d, %v; want %d", tc.content, got, err, tc.want)
		}
	}
}

// FuzzReadGeneration: whatever a state holds, readGeneration either
// refuses it or returns a generation whose canonical text is the content.
func FuzzReadGeneration(f *testing.F) {
	for _, s := range []string{"1\n", "42\n", "18446744073709551615\n", "", "0\n", "x\n", "007\n", strings.Repeat("9", 25)} {
		f.Add([]byte(s))
	}
	mem, err := newState()
	if err != nil {
		f.Fatal(err)
	}
	defer mem.Close()
	f.Fuzz(func(t *testing.T, content []byte) {
		if err := mem.file.Truncate(0); err != nil {
			t.Fatal(err)
		}
		if _, err := mem.file.WriteAt(content, 0); err != nil {
			t.Fatal(err)
		}
		gen, err := readGeneration(mem.file)
		if err != nil {
			return
		}
		if canon := strconv.FormatUint(gen, 10) + "\n"; gen == 0 || canon != string(content) {
			t.Errorf("readGeneration(%q) = %d, which reads back as %q", content, gen, canon)
		}
	})
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{{"--exit-after", "-1"}, {"--exit-after", "x"}, {"extra"}, {"--unknown"}} {
		var stderr strings.Builder
		if code := run(context.Background(), args, &stderr); code != exitUsage || !strings.Contains(stderr.String(), "Usage of sdserver") {
			t.Errorf("sdserver %q: exit %d, stderr %q; want %d and the usage", args, code, stderr.String(), exitUsage)
		}
	}
}

func TestNoSocketNoListen(t *testing.T) {
	t.Setenv("LISTEN_FDS", "")
	t.Setenv("NOTIFY_SOCKET", "")
	var stderr strings.Builder
	if code := run(context.Background(), nil, &stderr); code != exitFailed || !strings.Contains(stderr.String(), errNoSocket.Error()) {
		t.Errorf("sdserver with no socket: exit %d, stderr %q; want %d and %q", code, stderr.String(), exitFailed, errNoSocket)
	}
}

func contentOf(t *testing.T, f *os.File) string {
	t.Helper()
	b, err := io.ReadAll(io.NewSectionReader(f, 0, maxStateSize+1))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// dupFile returns a close-on-exec duplicate of f, as a service manager
// passes its held copy.
func dupFile(f *os.File) (*os.File, error) {
	fd, err := unix.FcntlInt(f.Fd(), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), stateName), nil
}
