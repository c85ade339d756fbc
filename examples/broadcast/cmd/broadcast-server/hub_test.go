//go:build linux

package main

import (
	"errors"
	"testing"
)

func TestHubCatchesUpFromAPosition(t *testing.T) {
	h := newHub(3)
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
	// Lines 1..5 were made; the history holds 3..5.
	data, next, _, err := h.since(4)
	if err != nil || string(data) != "4 tick\n5 tick\n" || next != 6 {
		t.Errorf("since(4) = %q, %d, %v", data, next, err)
	}
	if data, next, _, err := h.since(6); err != nil || len(data) != 0 || next != 6 {
		t.Errorf("since(6) = %q, %d, %v; want nothing yet", data, next, err)
	}
	if _, _, _, err := h.since(2); !errors.Is(err, errTooOld) {
		t.Errorf("since(2) = %v, want errTooOld", err)
	}
	for _, pos := range []uint64{0, 7} {
		if _, _, _, err := h.since(pos); err == nil {
			t.Errorf("since(%d) accepted a position outside the stream", pos)
		}
	}
}
