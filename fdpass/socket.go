//go:build linux

package fdpass

import (
	"strconv"
	"unsafe"

	"golang.org/x/sys/unix"
)

// describeSocket fills in the socket fields of d: family, type, listening,
// local and peer address, and the Kind (TCP, UDP, unix or other).
func describeSocket(fd int, d *Description) error {
	var domain, typ, proto, accept int
	for _, q := range []struct {
		opt  int
		dst  *int
		name string
	}{
		{unix.SO_DOMAIN, &domain, "getsockopt SO_DOMAIN"},
		{unix.SO_TYPE, &typ, "getsockopt SO_TYPE"},
		{unix.SO_PROTOCOL, &proto, "getsockopt SO_PROTOCOL"},
		{unix.SO_ACCEPTCONN, &accept, "getsockopt SO_ACCEPTCONN"},
	} {
		v, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, q.opt)
		if err != nil {
			return syscallError(q.name, err)
		}
		*q.dst = v
	}
	d.Kind = socketKind(domain, proto)
	d.Family = familyName(domain)
	d.SockType = sockTypeName(typ)
	d.Listening = accept != 0
	var err error
	if d.Local, err = sockName(fd, unix.SYS_GETSOCKNAME); err != nil {
		return syscallError("getsockname", err)
	}
	if d.Peer, err = sockName(fd, unix.SYS_GETPEERNAME); err != nil {
		return syscallError("getpeername", err)
	}
	return nil
}

func socketKind(domain, proto int) Kind {
	inet := domain == unix.AF_INET || domain == unix.AF_INET6
	switch {
	case inet && proto == unix.IPPROTO_TCP:
		return KindTCP
	case inet && proto == unix.IPPROTO_UDP:
		return KindUDP
	case domain == unix.AF_UNIX:
		return KindUnix
	}
	return KindSocket
}

var familyNames = map[int]string{
	unix.AF_UNIX:    "unix",
	unix.AF_INET:    "inet",
	unix.AF_INET6:   "inet6",
	unix.AF_NETLINK: "netlink",
	unix.AF_PACKET:  "packet",
	unix.AF_VSOCK:   "vsock",
}

func familyName(domain int) string {
	if name, ok := familyNames[domain]; ok {
		return name
	}
	return "af" + strconv.Itoa(domain)
}

var sockTypeNames = map[int]string{
	unix.SOCK_STREAM:    "stream",
	unix.SOCK_DGRAM:     "dgram",
	unix.SOCK_SEQPACKET: "seqpacket",
	unix.SOCK_RAW:       "raw",
	unix.SOCK_RDM:       "rdm",
}

func sockTypeName(typ int) string {
	if name, ok := sockTypeNames[typ]; ok {
		return name
	}
	return "type" + strconv.Itoa(typ)
}

// sockName calls getsockname or getpeername (trap) and formats the address.
// A socket that is not connected has no peer: "" and no error. The raw
// syscall is used, not unix.Getsockname, because the address length is
// what tells an unnamed unix socket from an abstract one.
func sockName(fd int, trap uintptr) (string, error) {
	var rsa unix.RawSockaddrAny
	n := uint32(unsafe.Sizeof(rsa))
	_, _, errno := unix.Syscall(trap, uintptr(fd), uintptr(unsafe.Pointer(&rsa)), uintptr(unsafe.Pointer(&n)))
	if errno == unix.ENOTCONN {
		return "", nil
	}
	if errno != 0 {
		return "", errno
	}
	b := unsafe.Slice((*byte)(unsafe.Pointer(&rsa)), unsafe.Sizeof(rsa))
	return formatSockaddr(b[:min(uintptr(n), uintptr(len(b)))]), nil
}
