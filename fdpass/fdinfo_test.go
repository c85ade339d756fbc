//go:build linux

package fdpass

import (
	"errors"
	"testing"
)

func TestParseFdinfoPos(t *testing.T) {
	tests := []struct {
		info    string
		want    int64
		wantErr bool
	}{
		{"pos:\t42\nflags:\t02\nmnt_id:\t1\n", 42, false},
		{"flags:\t02\npos:\t0\n", 0, false},
		{"pos:\t9223372036854775807", 1<<63 - 1, false},
		{"flags:\t02\n", 0, true},
		{"pos:\tx\n", 0, true},
		{"pos:\t-1\n", 0, true},
		{"position:\t1\n", 0, true},
		{"", 0, true},
	}
	for _, tt := range tests {
		got, err := parseFdinfoPos([]byte(tt.info))
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("parseFdinfoPos(%q) = %d, %v; want %d, error %v", tt.info, got, err, tt.want, tt.wantErr)
		}
		if err != nil && !errors.Is(err, ErrProc) {
			t.Errorf("parseFdinfoPos(%q) error %v does not wrap ErrProc", tt.info, err)
		}
	}
}

func FuzzParseFdinfo(f *testing.F) {
	f.Add([]byte("pos:\t42\nflags:\t02100002\nmnt_id:\t29\nino:\t3\n"))
	f.Add([]byte("pos:\t0\nflags:\t02\neventfd-count:                0\neventfd-id: 2\n"))
	f.Add([]byte("pos:"))
	f.Fuzz(func(t *testing.T, info []byte) {
		pos, err := parseFdinfoPos(info)
		if err == nil && pos < 0 {
			t.Fatalf("negative offset %d accepted", pos)
		}
		if err != nil && pos != 0 {
			t.Fatalf("offset %d returned with error %v", pos, err)
		}
		id := fdinfoIdentity(info)
		if len(id) > len(info) {
			t.Fatalf("identity longer than fdinfo")
		}
	})
}
