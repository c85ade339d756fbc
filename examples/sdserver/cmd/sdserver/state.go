//go:build linux

package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// maxStateSize bounds what a state descriptor may hold: a decimal
// generation and a newline.
const maxStateSize = 21

// errBadState is returned when the passed state descriptor does not hold a
// generation, written as write writes it: decimal without leading zeros or
// sign, then a newline.
var errBadState = errors.New("not a generation (a decimal count and a newline)")

// state is the generation counter kept across restarts in the service
// manager's file descriptor store: a memfd holding the generation in
// decimal and a newline.
type state struct {
	// file is the memfd, owned by state and close-on-exec; the service
	// manager holds a duplicate of it once stored.
	file *os.File
	// generation is this start's generation, 1 for the first.
	generation uint64
	// restored is set when file came from the store (LISTEN_FDNAMES).
	restored bool
}

// openState takes the state passed by the service manager, or makes one
// when f is nil, and advances it to this start's generation: the passed
// one plus one, or 1. It owns f from then on, even when it fails.
func openState(f *os.File) (*state, error) {
	if f == nil {
		return newState()
	}
	prev, err := readGeneration(f)
	if err == nil && prev == math.MaxUint64 {
		err = fmt.Errorf("generation %d cannot advance", prev)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("read the passed %s descriptor: %w", stateName, err)
	}
	st := &state{file: f, generation: prev + 1, restored: true}
	if err := st.write(); err != nil {
		st.Close()
		return nil, err
	}
	return st, nil
}

// newState makes a memfd holding generation 1.
func newState() (*state, error) {
	fd, err := unix.MemfdCreate("sdserver-"+stateName, unix.MFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("make the %s memfd: %w", stateName, os.NewSyscallError("memfd_create", err))
	}
	st := &state{file: os.NewFile(uintptr(fd), stateName), generation: 1}
	if err := st.write(); err != nil {
		st.Close()
		return nil, err
	}
	return st, nil
}

// readGeneration reads the generation at offset 0 of f.
func readGeneration(f *os.File) (uint64, error) {
	buf := make([]byte, maxStateSize+1)
	n, err := f.ReadAt(buf, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return 0, err
	}
	if n > maxStateSize {
		return 0, fmt.Errorf("more than %d bytes: %w", maxStateSize, errBadState)
	}
	text, ok := bytes.CutSuffix(buf[:n], []byte("\n"))
	gen, perr := strconv.ParseUint(string(text), 10, 64)
	if !ok || perr != nil || gen == 0 || strconv.FormatUint(gen, 10) != string(text) {
		return 0, fmt.Errorf("%q: %w", buf[:n], errBadState)
	}
	return gen, nil
}

// write replaces the file's content with the generation.
func (st *state) write() error {
	text := strconv.AppendUint(nil, st.generation, 10)
	text = append(text, '\n')
	if _, err := st.file.WriteAt(text, 0); err != nil {
		return fmt.Errorf("write generation %d to the %s descriptor: %w", st.generation, stateName, err)
	}
	if err := st.file.Truncate(int64(len(text))); err != nil {
		return fmt.Errorf("write generation %d to the %s descriptor: %w", st.generation, stateName, err)
	}
	return nil
}

// store hands the memfd to the service manager's file descriptor store
// under the name state. A restored state is removed by name first
// (FDSTOREREMOVE=1), as systemd's own services do, so a store that keeps
// duplicates of one file still holds one state. Without NOTIFY_SOCKET it
// does nothing.
func (st *state) store(n notifier) error {
	if st.restored {
		n.send("FDSTOREREMOVE=1\nFDNAME=" + stateName)
	}
	if _, err := notifyWithFile("FDSTORE=1\nFDNAME="+stateName, st.file); err != nil {
		return fmt.Errorf("store the %s descriptor (FDSTORE=1): %w", stateName, err)
	}
	return nil
}

// Close closes the memfd; the service manager's duplicate stays open.
func (st *state) Close() error { return st.file.Close() }
