//go:build linux

package fdpass

import (
	"errors"
	"slices"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// credentials encodes an SCM_CREDENTIALS control message.
func credentials() []byte {
	return unix.UnixCredentials(&unix.Ucred{Pid: 1, Uid: 2, Gid: 3})
}

func TestParseRights(t *testing.T) {
	tests := []struct {
		name string
		oob  []byte
		want []int
	}{
		{"none", nil, nil},
		{"one message", unix.UnixRights(5, 6), []int{5, 6}},
		{"credentials and two rights messages", slices.Concat(credentials(), unix.UnixRights(5, 6), unix.UnixRights(7)), []int{5, 6, 7}},
		{"last message without padding", unix.UnixRights(5)[:unix.CmsgLen(4)], []int{5}},
		{"credentials only", credentials(), nil},
	}
	for _, tt := range tests {
		got, err := parseRights(tt.oob)
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("%s: parseRights = %v, %v; want %v", tt.name, got, err, tt.want)
		}
	}
}

// TestParseRightsMalformed checks that malformed control data is an error
// and that the descriptors parsed before the damage are still returned, so
// that Recv can close them.
func TestParseRightsMalformed(t *testing.T) {
	good := unix.UnixRights(5, 6)
	badLen := unix.UnixRights(7)
	setCmsgLen(badLen, 1000)
	oddRights := unix.UnixRights(7)
	setCmsgLen(oddRights, uint64(unix.CmsgLen(3)))
	tests := []struct {
		name string
		oob  []byte
	}{
		{"trailing bytes", append(slices.Clone(good), 1, 2, 3)},
		{"length beyond the buffer", slices.Concat(good, badLen)},
		{"length shorter than a header", slices.Concat(good, func() []byte { b := unix.UnixRights(7); setCmsgLen(b, 4); return b }())},
		{"rights not a multiple of 4 bytes", slices.Concat(good, oddRights)},
	}
	for _, tt := range tests {
		got, err := parseRights(tt.oob)
		if !errors.Is(err, ErrBadControl) {
			t.Errorf("%s: err = %v, want ErrBadControl", tt.name, err)
		}
		if !slices.Equal(got, []int{5, 6}) {
			t.Errorf("%s: parsed %v before the damage, want [5 6]", tt.name, got)
		}
	}
}

func setCmsgLen(b []byte, n uint64) {
	h := (*unix.Cmsghdr)(unsafe.Pointer(&b[0]))
	h.SetLen(int(n))
}

func FuzzParseRights(f *testing.F) {
	f.Add(unix.UnixRights(3))
	f.Add(slices.Concat(credentials(), unix.UnixRights(5, 6), unix.UnixRights(7)))
	f.Add(unix.UnixRights(5)[:unix.CmsgLen(4)])
	f.Add([]byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, oob []byte) {
		fds, err := parseRights(oob)
		if len(fds)*4 > len(oob) {
			t.Fatalf("%d descriptors out of %d bytes", len(fds), len(oob))
		}
		if err != nil && !errors.Is(err, ErrBadControl) {
			t.Fatalf("error %v does not wrap ErrBadControl", err)
		}
	})
}
