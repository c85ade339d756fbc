//go:build linux

package fdpass

import (
	"encoding/binary"
	"net/netip"
	"testing"

	"golang.org/x/sys/unix"
)

func TestFormatSockaddr(t *testing.T) {
	inet4 := []byte{2, 0, 0x1f, 0x90, 10, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 0}
	inet6 := make([]byte, 28)
	inet6[0], inet6[2], inet6[3] = 10, 0x01, 0xbb
	copy(inet6[8:], []byte{0xfe, 0x80, 15: 1})
	inet6Zone := append([]byte(nil), inet6...)
	inet6Zone[24] = 3
	tests := []struct {
		name string
		raw  []byte
		want string
	}{
		{"inet", inet4, "10.0.0.7:8080"},
		{"inet6", inet6, "[fe80::1]:443"},
		{"inet6 with zone", inet6Zone, "[fe80::1%3]:443"},
		{"unix path", append([]byte{1, 0}, "/run/x.sock\x00junk"...), "/run/x.sock"},
		{"unix path filling sun_path", append([]byte{1, 0}, "/run/x.sock"...), "/run/x.sock"},
		{"unix abstract", append([]byte{1, 0, 0}, "name"...), "@name"},
		{"unix unnamed", []byte{1, 0}, ""},
		{"truncated inet", inet4[:6], ""},
		{"truncated inet6", inet6[:20], ""},
		{"other family", []byte{16, 0, 1, 2, 3, 4}, ""},
		{"empty", nil, ""},
	}
	for _, tt := range tests {
		if got := formatSockaddr(tt.raw); got != tt.want {
			t.Errorf("%s: formatSockaddr = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func FuzzFormatSockaddr(f *testing.F) {
	f.Add([]byte{2, 0, 0x1f, 0x90, 10, 0, 0, 7})
	f.Add(append([]byte{10, 0, 1, 187}, make([]byte, 24)...))
	f.Add(append([]byte{1, 0, 0}, "abstract"...))
	f.Add(append([]byte{1, 0}, "/path\x00"...))
	f.Fuzz(func(t *testing.T, raw []byte) {
		got := formatSockaddr(raw)
		if len(raw) < 2 {
			if got != "" {
				t.Fatalf("formatSockaddr(%x) = %q from less than a family", raw, got)
			}
			return
		}
		family := binary.NativeEndian.Uint16(raw)
		if (family == unix.AF_INET && len(raw) >= 8) || (family == unix.AF_INET6 && len(raw) >= 28) {
			// An IP address must read back as the same port.
			ap, err := netip.ParseAddrPort(got)
			if err != nil || ap.Port() != binary.BigEndian.Uint16(raw[2:]) {
				t.Fatalf("formatSockaddr(%x) = %q: %v", raw, got, err)
			}
		}
	})
}
