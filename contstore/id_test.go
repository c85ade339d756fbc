package contstore

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
	"time"
)

func TestNewIDIncreases(t *testing.T) {
	start := time.Now().Truncate(time.Millisecond)
	prev := NewID()
	for range 10000 { // many per millisecond: the random part must count up
		id := NewID()
		if bytes.Compare(id[:], prev[:]) <= 0 {
			t.Fatalf("NewID %s after %s does not increase", id, prev)
		}
		prev = id
	}
	if at := prev.Time(); at.Before(start) || at.After(time.Now()) {
		t.Errorf("ID time %s is not now", at)
	}
}

func TestIDText(t *testing.T) {
	// The ULID specification's example: ulid(1469918176385) is
	// "01ARYZ6S41TSV4RRFFQ69G5FAV".
	id, err := ParseID("01ARYZ6S41TSV4RRFFQ69G5FAV")
	if err != nil {
		t.Fatal(err)
	}
	if want := time.UnixMilli(1469918176385).UTC(); !id.Time().Equal(want) {
		t.Errorf("Time() = %s, want %s", id.Time(), want)
	}
	if lower, err := ParseID("01aryz6s41tsv4rrffq69g5fav"); err != nil || lower != id {
		t.Errorf("lower case parses to %s, %v; want %s", lower, err, id)
	}
	var ones ID
	for i := range ones {
		ones[i] = 0xff
	}
	for _, tc := range []struct {
		id   ID
		text string
	}{{ID{}, "00000000000000000000000000"}, {ones, "7ZZZZZZZZZZZZZZZZZZZZZZZZZ"}, {id, "01ARYZ6S41TSV4RRFFQ69G5FAV"}} {
		if got := tc.id.String(); got != tc.text {
			t.Errorf("String() = %s, want %s", got, tc.text)
		}
	}
	js, err := json.Marshal(struct{ ID ID }{id})
	if err != nil || string(js) != `{"ID":"01ARYZ6S41TSV4RRFFQ69G5FAV"}` {
		t.Errorf("JSON %s, %v", js, err)
	}
	for _, bad := range []string{"", "01ARZ3NDEKTSV4RRFFQ69G5FA", "01ARZ3NDEKTSV4RRFFQ69G5FAVV", "01ARZ3NDEKTSV4RRFFQ69G5FAU", "81ARZ3NDEKTSV4RRFFQ69G5FAV"} {
		if _, err := ParseID(bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseID(%q): %v, want ErrInvalid", bad, err)
		}
	}
}
