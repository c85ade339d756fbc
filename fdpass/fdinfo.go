//go:build linux

package fdpass

import (
	"bytes"
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// readFdinfo returns the text of /proc/self/fdinfo/N. It uses raw
// syscalls rather than os.ReadFile: an *os.File would register the
// descriptor with the netpoller and deregister it again, which costs as
// much as the read.
func readFdinfo(fd int) ([]byte, error) {
	path := procPath("fdinfo", fd)
	f, err := openRetry(path)
	if err == unix.ENOENT {
		return nil, fmt.Errorf("read %s: %w: %w", path, ErrBadFD, err)
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, os.NewSyscallError("open", err))
	}
	defer unix.Close(f)
	info := make([]byte, 0, 512)
	for {
		if len(info) == cap(info) {
			info = append(info, 0)[:len(info)]
		}
		n, err := unix.Read(f, info[len(info):cap(info)])
		switch {
		case err == unix.EINTR:
			continue
		case err != nil:
			return nil, fmt.Errorf("read %s: %w", path, os.NewSyscallError("read", err))
		case n == 0:
			return info, nil
		}
		info = info[:len(info)+n]
	}
}

func openRetry(path string) (int, error) {
	for {
		fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != unix.EINTR {
			return fd, err
		}
	}
}

// parseFdinfoPos returns the "pos:" field of an fdinfo text: the file
// offset, in decimal.
func parseFdinfoPos(info []byte) (int64, error) {
	v, ok := fdinfoField(info, "pos")
	if !ok {
		return 0, fmt.Errorf("parse fdinfo: %w: no pos field", ErrProc)
	}
	pos, err := strconv.ParseInt(string(v), 10, 64)
	if err != nil || pos < 0 {
		return 0, fmt.Errorf("parse fdinfo: %w: bad pos %q", ErrProc, v)
	}
	return pos, nil
}

// fdinfoField returns the value of the first "name:" line, trimmed.
func fdinfoField(info []byte, name string) ([]byte, bool) {
	for line := range bytes.Lines(info) {
		key, value, ok := bytes.Cut(line, []byte(":"))
		if ok && string(key) == name {
			return bytes.TrimSpace(value), true
		}
	}
	return nil, false
}

// fdinfoIdentity is the fdinfo text without its "flags:" line. Everything
// left (pos, mnt_id, ino and the per-type lines such as eventfd-id, tfd,
// inotify wd) belongs to the open file description; the flags line mixes
// in the descriptor's own close-on-exec bit, and F_GETFL reports the
// status flags anyway.
func fdinfoIdentity(info []byte) []byte {
	out := make([]byte, 0, len(info))
	for line := range bytes.Lines(info) {
		if !bytes.HasPrefix(line, []byte("flags:")) {
			out = append(out, line...)
		}
	}
	return out
}
