//go:build linux

package fdpass

import (
	"slices"
	"testing"

	"golang.org/x/sys/unix"
)

// TestCollapseSSHSession rebuilds the OpenSSH session of the paper's Table
// III: a continuation of 8 descriptors that Migrate holds as 3, "the
// connection to the user's shell, its pseudo-tty, and the /dev/ptmx
// device" (section V.C.3). The layout follows OpenSSH's do_exec_pty:
//
//	app fd  what                                        resource
//	0, 1, 2 the pty slave, opened three times           the pseudo-tty
//	3       the TCP connection to the client            the connection
//	4       the pty master, opened from /dev/ptmx       the /dev/ptmx device
//	5       dup(4): sshd's fdout                        the /dev/ptmx device
//	6       dup(4): sshd's s->ptymaster                 the /dev/ptmx device
//	7       dup(0): the slave sshd keeps (s->ttyfd)     the pseudo-tty
//
// The descriptors travel to the "supervisor" through Send and Recv as they
// would in production, and the plan is made from the received copies. The
// three separate opens of the slave merge because they are one terminal
// with the same flags; the master's three references merge because they
// are one open file description.
func TestCollapseSSHSession(t *testing.T) {
	noLeaks(t)
	master, slave, _ := ptyPair(t)
	_, conn, server := tcpPair(t, unix.AF_INET, loopback4())
	slavePath := readlinkT(t, slave)
	app := []int{
		slave,
		open(t, slavePath, unix.O_RDWR),
		open(t, slavePath, unix.O_RDWR),
		conn,
		master,
		dup(t, master),
		dup(t, master),
		dup(t, slave),
	}

	a, b := socketPair(t)
	if err := Send(a, message(len(app), "suspend"), app); err != nil {
		t.Fatal(err)
	}
	_, received, err := Recv(b, make([]byte, 64), MaxFDs, firstByte)
	if err != nil {
		t.Fatal(err)
	}
	closeLater(t, received...)
	plan := collapse(t, describeAll(t, received...))

	if plan.Before() != 8 || plan.After() != 3 || len(plan.Redundant) != 5 {
		t.Fatalf("plan holds %d of %d (%d redundant), want 3 of 8 (5 redundant)", plan.After(), plan.Before(), len(plan.Redundant))
	}
	wantGroups(t, plan, []int{0, 1, 2, 7}, []int{3}, []int{4, 5, 6})
	for i, h := range plan.Restore {
		if got := plan.Held[h].Numbers; !slices.Contains(got, i) {
			t.Errorf("held %d restores numbers %v, missing slot %d", h, got, i)
		}
		assertSameResource(t, plan.Held[h].FD, app[i])
	}

	// The held descriptors are the live session: once the redundant ones
	// are closed, the pty and the connection still carry data.
	if err := plan.CloseRedundant(); err != nil {
		t.Fatal(err)
	}
	heldTTY, heldConn, heldMaster := plan.Held[0].FD, plan.Held[1].FD, plan.Held[2].FD
	roundTrip(t, heldTTY, heldMaster, "hi")
	roundTrip(t, heldConn, server, "resume")
}

// assertSameResource checks that held restores the app's descriptor: the
// same open file description, or for a terminal the same device with the
// same flags.
func assertSameResource(t *testing.T, held, orig int) {
	t.Helper()
	dh, err := Describe(held)
	if err != nil {
		t.Fatal(err)
	}
	if dh.Kind == KindPTYSlave {
		do, err := Describe(orig)
		if err != nil {
			t.Fatal(err)
		}
		if do.Rdev != dh.Rdev || do.Flags != dh.Flags {
			t.Errorf("held tty fd %d is not fd %d's terminal", held, orig)
		}
		return
	}
	if !mustSame(t, held, orig) {
		t.Errorf("held fd %d is not fd %d's open file description", held, orig)
	}
}

func roundTrip(t *testing.T, from, to int, msg string) {
	t.Helper()
	if _, err := unix.Write(from, []byte(msg)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, len(msg))
	if n, err := unix.Read(to, buf); err != nil || string(buf[:n]) != msg {
		t.Errorf("read %q, %v; want %q", buf[:n], err, msg)
	}
}

func readlinkT(t *testing.T, fd int) string {
	t.Helper()
	path, err := readLink(fd)
	if err != nil {
		t.Fatal(err)
	}
	return path
}
