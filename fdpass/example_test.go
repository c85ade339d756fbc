//go:build linux

package fdpass_test

import (
	"errors"
	"fmt"
	"log"

	"github.com/migrate-run/migrate/fdpass"
	"golang.org/x/sys/unix"
)

// A toy header: the first payload byte declares the descriptor count.
func declaredCount(payload []byte) (int, error) {
	if len(payload) == 0 {
		return 0, errors.New("no header")
	}
	return int(payload[0]), nil
}

// Send a pipe's write end to the other end of a socket pair and write
// through the received copy.
func ExampleRecv() {
	app, supervisor, err := fdpass.SocketPair()
	if err != nil {
		log.Fatal(err)
	}
	defer app.Close()
	defer supervisor.Close()

	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		log.Fatal(err)
	}
	defer unix.Close(p[0])
	defer unix.Close(p[1])

	if err := fdpass.Send(app, append([]byte{1}, "hold this"...), []int{p[1]}); err != nil {
		log.Fatal(err)
	}
	payload, fds, err := fdpass.Recv(supervisor, make([]byte, 64), 4, declaredCount)
	if err != nil {
		log.Fatal(err)
	}
	defer unix.Close(fds[0])
	fmt.Printf("%q with %d descriptor\n", payload[1:], len(fds))

	unix.Write(fds[0], []byte("through the copy"))
	buf := make([]byte, 64)
	n, _ := unix.Read(p[0], buf)
	fmt.Printf("%s\n", buf[:n])
	// Output:
	// "hold this" with 1 descriptor
	// through the copy
}

func ExampleDescribe() {
	fd, err := unix.Open("/dev/null", unix.O_WRONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		log.Fatal(err)
	}
	defer unix.Close(fd)
	d, err := fdpass.Describe(fd)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(d.Kind, d.Path, unix.Major(d.Rdev), unix.Minor(d.Rdev), d.Flags&unix.O_ACCMODE == unix.O_WRONLY)
	// Output: chardev /dev/null 1 3 true
}

// Three opens of /dev/null as stdin, stdout and stderr and a file with a
// dup of it collapse to two held descriptors.
func ExampleCollapse() {
	var fds []int
	for range 3 {
		fd, err := unix.Open("/dev/null", unix.O_RDWR|unix.O_CLOEXEC, 0)
		if err != nil {
			log.Fatal(err)
		}
		fds = append(fds, fd)
	}
	f, err := unix.MemfdCreate("log", unix.MFD_CLOEXEC)
	if err != nil {
		log.Fatal(err)
	}
	dup, err := unix.FcntlInt(uintptr(f), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		log.Fatal(err)
	}
	fds = append(fds, f, dup)

	slots := make([]fdpass.Slot, len(fds))
	for i, fd := range fds {
		d, err := fdpass.Describe(fd)
		if err != nil {
			log.Fatal(err)
		}
		slots[i] = fdpass.Slot{Number: i, FD: fd, Desc: d}
	}
	plan, err := fdpass.Collapse(slots)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%d descriptors hold as %d\n", plan.Before(), plan.After())
	for _, h := range plan.Held {
		fmt.Printf("%s restores %v\n", slots[h.Slot].Desc.Kind, h.Numbers)
	}
	if err := plan.CloseRedundant(); err != nil {
		log.Fatal(err)
	}
	for _, h := range plan.Held {
		unix.Close(h.FD)
	}
	// Output:
	// 5 descriptors hold as 2
	// chardev restores [0 1 2]
	// memfd restores [3 4]
}
