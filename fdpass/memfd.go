//go:build linux

package fdpass

import (
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// Seals. A memfd with immutableSeals can no longer change size or content,
// whoever holds it; NewSealedMemfd also adds F_SEAL_SEAL so no other seal
// can be added later.
const (
	immutableSeals = unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_WRITE
	allSeals       = immutableSeals | unix.F_SEAL_SEAL
)

// NewSealedMemfd returns a close-on-exec memfd holding data, sealed against
// shrinking, growing, writing and further sealing: state too large for one
// message travels as one. name shows in /proc (as "/memfd:name") and must be
// at most 249 bytes. The caller owns fd. On error nothing stays open.
func NewSealedMemfd(name string, data []byte) (int, error) {
	fd, err := unix.MemfdCreate(name, unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return -1, fmt.Errorf("make sealed memfd %q: %w", name, os.NewSyscallError("memfd_create", err))
	}
	if err := fillAndSeal(fd, data); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("make sealed memfd %q: %w", name, err)
	}
	return fd, nil
}

func fillAndSeal(fd int, data []byte) error {
	if err := pwriteAll(fd, data); err != nil {
		return err
	}
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, allSeals); err != nil {
		return os.NewSyscallError("fcntl F_ADD_SEALS", err)
	}
	return nil
}

// ReadSealedMemfd returns the content of a memfd received from a peer. It
// refuses a descriptor that is not a memfd (ErrNotMemfd), a memfd its
// sender could still shrink, grow or write (ErrNotSealed: without those
// seals the bytes could change under the reader), and one larger than limit
// bytes (ErrTooLarge). F_SEAL_SEAL is not required: with the other three in
// place, adding more seals changes nothing a reader sees. It reads with
// pread from offset 0, so the shared file offset is left alone. The caller
// still owns fd and closes it.
func ReadSealedMemfd(fd int, limit int64) ([]byte, error) {
	if limit < 0 {
		return nil, fmt.Errorf("read sealed memfd: %w: negative limit %d", ErrInvalid, limit)
	}
	size, err := sealedSize(fd)
	if err != nil {
		return nil, fmt.Errorf("read sealed memfd fd %d: %w", fd, err)
	}
	if size > limit {
		return nil, fmt.Errorf("read sealed memfd fd %d: %w: %d bytes, limit %d", fd, ErrTooLarge, size, limit)
	}
	data := make([]byte, size)
	if err := preadFull(fd, data); err != nil {
		return nil, fmt.Errorf("read sealed memfd fd %d: %w", fd, err)
	}
	return data, nil
}

// sealedSize checks fd is a memfd with immutableSeals and returns its size.
// The seals are checked first: once they are on, the size cannot change.
func sealedSize(fd int) (int64, error) {
	seals, err := unix.FcntlInt(uintptr(fd), unix.F_GET_SEALS, 0)
	if err == unix.EINVAL {
		return 0, fmt.Errorf("%w: the file does not support seals", ErrNotMemfd)
	}
	if err != nil {
		return 0, syscallError("fcntl F_GET_SEALS", err)
	}
	var st unix.Stat_t
	if err := fstat(fd, &st); err != nil {
		return 0, syscallError("fstat", err)
	}
	path, err := readLink(fd)
	if err != nil {
		return 0, err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG || !strings.HasPrefix(path, "/memfd:") {
		return 0, fmt.Errorf("%w: %s", ErrNotMemfd, path)
	}
	if seals&immutableSeals != immutableSeals {
		return 0, fmt.Errorf("%w: seals %#x lack %#x", ErrNotSealed, seals, immutableSeals&^seals)
	}
	return st.Size, nil
}

// pwriteAll writes data at offset 0, retrying short writes and EINTR.
func pwriteAll(fd int, data []byte) error {
	for off := 0; off < len(data); {
		n, err := unix.Pwrite(fd, data[off:], int64(off))
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return os.NewSyscallError("pwrite", err)
		}
		off += n
	}
	return nil
}

// preadFull fills data from offset 0, retrying short reads and EINTR.
func preadFull(fd int, data []byte) error {
	for off := 0; off < len(data); {
		n, err := unix.Pread(fd, data[off:], int64(off))
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return os.NewSyscallError("pread", err)
		}
		if n == 0 {
			return fmt.Errorf("pread at %d of %d bytes: %w", off, len(data), io.ErrUnexpectedEOF)
		}
		off += n
	}
	return nil
}
