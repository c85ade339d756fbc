//go:build linux

package fdpass

import (
	"encoding/binary"
	"fmt"

	"golang.org/x/sys/unix"
)

// parseRights returns every descriptor of every SCM_RIGHTS control message
// in oob, in order, and skips other messages (SCM_CREDENTIALS, ...). A peer
// may send several SCM_RIGHTS messages in one sendmsg; all of them are
// collected before anything is validated so that none leaks. On malformed
// data it returns the descriptors parsed so far together with an error
// wrapping ErrBadControl, so the caller can close them.
//
// It decodes the headers with encoding/binary rather than casting, so it
// reads any byte slice safely, aligned or not.
func parseRights(oob []byte) ([]int, error) {
	var fds []int
	for off := 0; off < len(oob); {
		rest := oob[off:]
		if len(rest) < unix.SizeofCmsghdr {
			return fds, fmt.Errorf("%w: %d trailing bytes at offset %d", ErrBadControl, len(rest), off)
		}
		length, level, typ := cmsgHeader(rest)
		if length < uint64(unix.SizeofCmsghdr) || length > uint64(len(rest)) {
			return fds, fmt.Errorf("%w: length %d at offset %d", ErrBadControl, length, off)
		}
		data := rest[unix.SizeofCmsghdr:length]
		if level == unix.SOL_SOCKET && typ == unix.SCM_RIGHTS {
			if len(data)%4 != 0 {
				return fds, fmt.Errorf("%w: SCM_RIGHTS of %d bytes", ErrBadControl, len(data))
			}
			for i := 0; i < len(data); i += 4 {
				fds = append(fds, int(int32(binary.NativeEndian.Uint32(data[i:]))))
			}
		}
		off += unix.CmsgSpace(int(length) - unix.SizeofCmsghdr)
	}
	return fds, nil
}

// cmsgHeader decodes a struct cmsghdr: cmsg_len is a size_t (8 bytes on
// 64-bit Linux, 4 on 32-bit), then cmsg_level and cmsg_type as int32.
func cmsgHeader(b []byte) (length uint64, level, typ int32) {
	lenSize := unix.SizeofCmsghdr - 8
	if lenSize == 8 {
		length = binary.NativeEndian.Uint64(b)
	} else {
		length = uint64(binary.NativeEndian.Uint32(b))
	}
	level = int32(binary.NativeEndian.Uint32(b[lenSize:]))
	typ = int32(binary.NativeEndian.Uint32(b[lenSize+4:]))
	return length, level, typ
}
