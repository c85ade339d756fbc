//go:build linux

package main

import (
	"errors"
	"strings"
	"testing"
)

func TestHubStreamsFromAPosition(t *testing.T) {
	h := newHub(3, "1")
	if h.next() != 1 {
		t.Fatalf("next before any line = %d, want 1", h.next())
	}
	_, _, wake, err := h.since(1)
	if err != nil {
		t.Fatal(err)
	}
	h.add()
	select {
	case <-wake:
	default:
		t.Fatal("adding a line did not wake the waiters")
	}
	for range 4 {
		h.add()
	}
	data, next, wake, err := h.since(4)
	if err != nil || string(data) != "4 tick\n5 tick\n" || next != 6 {
		t.Errorf("since(4) = %q, %d, %v", data, next, err)
	}
	select {
	case <-wake:
		t.Error("since(4) returned every line, but a closed wake channel")
	default:
	}
	if data, next, _, err := h.since(6); err != nil || len(data) != 0 || next != 6 {
		t.Errorf("since(6) = %q, %d, %v; want nothing yet", data, next, err)
	}
	for _, pos := range []uint64{0, 7} {
		if _, _, _, err := h.since(pos); err == nil {
			t.Errorf("since(%d) accepted a position outside the stream", pos)
		}
	}
}

// TestHubCatchesUpInBatches: a client far behind gets batchLines lines at
// a time, each call saying more are due.
func TestHubCatchesUpInBatches(t *testing.T) {
	h := newHub(1<<20, "2")
	for range batchLines + 10 {
		h.add()
	}
	data, next, wake, err := h.since(1)
	if err != nil || next != batchLines+1 || strings.Count(string(data), "\n") != batchLines {
		t.Fatalf("since(1) = %d lines, next %d, %v; want %d lines", strings.Count(string(data), "\n"), next, err, batchLines)
	}
	if !strings.HasPrefix(string(data), "1 tick v2\n2 tick v2\n") {
		t.Errorf("since(1) starts %q, want version 2's lines", data[:20])
	}
	select {
	case <-wake:
	default:
		t.Error("a batch short of the newest line did not say more are due")
	}
	data, next, _, err = h.since(next)
	if err != nil || next != batchLines+11 || strings.Count(string(data), "\n") != 10 {
		t.Errorf("second batch: %q, next %d, %v", data, next, err)
	}
}

func TestHubRejoin(t *testing.T) {
	h := newHub(3, "1")
	for range 5 {
		h.add()
	}
	// Lines 1..5 were made; a client is taken back from 3 (3 lines back) on.
	for _, pos := range []uint64{3, 5, 6} {
		if err := h.rejoin(pos, false); err != nil {
			t.Errorf("rejoin(%d) = %v", pos, err)
		}
	}
	if err := h.rejoin(2, false); !errors.Is(err, errTooOld) {
		t.Errorf("rejoin(2) = %v, want errTooOld", err)
	}
	for _, pos := range []uint64{0, 7} {
		if err := h.rejoin(pos, false); err == nil || errors.Is(err, errTooOld) {
			t.Errorf("rejoin(%d) = %v, want not in the stream", pos, err)
		}
	}
	if err := h.rejoin(0, true); err == nil {
		t.Error("rejoin(0) from another process accepted")
	}
	if h.next() != 6 {
		t.Fatalf("refused rejoins moved the source to %d", h.next())
	}

	// A client from another process that got further: the source goes on
	// from there, and a client of this one catches up without a gap.
	_, _, wake, _ := h.since(6)
	if err := h.rejoin(100, true); err != nil {
		t.Fatalf("rejoin(100) from another process = %v", err)
	}
	select {
	case <-wake:
	default:
		t.Error("moving the source on did not wake the waiters")
	}
	if h.next() != 100 {
		t.Errorf("next after rejoin(100) = %d, want 100", h.next())
	}
	data, next, _, err := h.since(6)
	if err != nil || next != 100 || !strings.HasPrefix(string(data), "6 tick\n7 tick\n") || !strings.HasSuffix(string(data), "\n99 tick\n") {
		t.Errorf("since(6) after the move = %d bytes, next %d, %v", len(data), next, err)
	}
	if err := h.rejoin(50, true); err == nil {
		t.Error("rejoin(50) from another process accepted 50 lines back with a window of 3")
	}
}
