//go:build linux

package fdpass

import (
	"strconv"
	"testing"

	"golang.org/x/sys/unix"
)

// BenchmarkSendRecv is a full round trip over a socket pair: send a message
// with n descriptors, receive it, close the received copies.
func BenchmarkSendRecv(b *testing.B) {
	for _, n := range []int{1, 8, 64} {
		b.Run("fds="+strconv.Itoa(n), func(b *testing.B) {
			a, c := socketPair(b)
			null := open(b, "/dev/null", unix.O_RDONLY)
			fds := make([]int, n)
			for i := range fds {
				fds[i] = null
			}
			msg := message(n, "benchmark payload")
			buf := make([]byte, 64)
			b.ReportAllocs()
			for b.Loop() {
				if err := Send(a, msg, fds); err != nil {
					b.Fatal(err)
				}
				_, got, err := Recv(c, buf, n, firstByte)
				if err != nil {
					b.Fatal(err)
				}
				closeFDs(got)
			}
		})
	}
}

// BenchmarkDescribeCollapse64 describes 64 real descriptors, a mix like a
// server's continuation (TCP connections and a listener, unix sockets, a
// pty, files and their dups, pipes, /dev/null), and collapses them.
func BenchmarkDescribeCollapse64(b *testing.B) {
	fds := benchmarkMix(b)
	if len(fds) != 64 {
		b.Fatalf("mix has %d descriptors, want 64", len(fds))
	}
	slots := make([]Slot, len(fds))
	b.ReportAllocs()
	for b.Loop() {
		for i, fd := range fds {
			d, err := Describe(fd)
			if err != nil {
				b.Fatal(err)
			}
			slots[i] = Slot{Number: i, FD: fd, Desc: d}
		}
		if _, err := Collapse(slots); err != nil {
			b.Fatal(err)
		}
	}
}

// benchmarkMix opens 64 descriptors: 8 TCP (a listener, 4 connection ends,
// 3 dups), 8 unix socket ends, a pty (master, slave, 3 reopens of the
// slave, 3 dups), 8 files opened twice each with 8 dups (24), 8 pipe ends
// with 4 dups (12), and 4 /dev/null opens.
func benchmarkMix(b *testing.B) []int {
	var fds []int
	l, c1, s1 := tcpPair(b, unix.AF_INET, loopback4())
	_, c2, s2 := tcpPair(b, unix.AF_INET, loopback4())
	fds = append(fds, l, c1, s1, c2, s2, dup(b, c1), dup(b, c1), dup(b, s2))
	for range 4 {
		x, y := socketPair(b)
		rawFD(b, x, func(fd int) { fds = append(fds, dup(b, fd)) })
		rawFD(b, y, func(fd int) { fds = append(fds, dup(b, fd)) })
	}
	m, s, path := ptyPair(b)
	fds = append(fds, m, s, open(b, path, unix.O_RDWR), open(b, path, unix.O_RDWR), open(b, path, unix.O_RDWR), dup(b, m), dup(b, s), dup(b, m))
	for range 8 {
		p := tempFile(b, "data")
		f := open(b, p, unix.O_RDONLY)
		fds = append(fds, f, open(b, p, unix.O_RDONLY), dup(b, f))
	}
	for range 4 {
		r, w := pipe(b)
		fds = append(fds, r, w, dup(b, r))
	}
	for range 4 {
		fds = append(fds, open(b, "/dev/null", unix.O_RDWR))
	}
	return fds
}
