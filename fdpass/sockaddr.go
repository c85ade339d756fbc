//go:build linux

package fdpass

import (
	"encoding/binary"
	"net/netip"
	"strconv"

	"golang.org/x/sys/unix"
)

// formatSockaddr formats a raw struct sockaddr of the length the kernel
// reported: "host:port" for IPv4, "[host%zone]:port" for IPv6, the path for
// a unix socket ("@name" for an abstract one, "" for an unnamed one), and
// "" for any other family or a truncated address.
func formatSockaddr(b []byte) string {
	if len(b) < 2 {
		return ""
	}
	switch binary.NativeEndian.Uint16(b) {
	case unix.AF_INET:
		if len(b) < 8 {
			return ""
		}
		port := binary.BigEndian.Uint16(b[2:])
		return netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[4:8])), port).String()
	case unix.AF_INET6:
		if len(b) < 28 {
			return ""
		}
		port := binary.BigEndian.Uint16(b[2:])
		addr := netip.AddrFrom16([16]byte(b[8:24]))
		if zone := binary.NativeEndian.Uint32(b[24:]); zone != 0 {
			addr = addr.WithZone(strconv.FormatUint(uint64(zone), 10))
		}
		return netip.AddrPortFrom(addr, port).String()
	case unix.AF_UNIX:
		return unixPath(b[2:])
	}
	return ""
}

// unixPath formats sun_path: empty for an unnamed socket, "@" and the
// name's bytes for an abstract one (which begins with a NUL and is not
// NUL-terminated), and the path up to its NUL otherwise.
func unixPath(p []byte) string {
	switch {
	case len(p) == 0:
		return ""
	case p[0] == 0:
		return "@" + string(p[1:])
	}
	for i, c := range p {
		if c == 0 {
			return string(p[:i])
		}
	}
	return string(p)
}
