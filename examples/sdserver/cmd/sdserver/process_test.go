//go:build linux

package main

import (
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestReadyOnlyOnceListening runs sdserver on a port of its own
// (--listen): the address in READY=1's STATUS must take a client at once,
// the state must have been stored before, and SIGTERM must end it with
// STOPPING=1 and status 0.
func TestReadyOnlyOnceListening(t *testing.T) {
	notes := newNotifySocket(t)
	p := startProcess(t, nil, []string{"NOTIFY_SOCKET=" + notes.path}, "--listen", "127.0.0.1:0")
	stored := notes.next(t)
	closeOnCleanup(t, stored.files)
	checkStored(t, stored, 1)
	ready := notes.next(t)
	addr, ok := strings.CutPrefix(ready.text, "READY=1\nSTATUS=serving ")
	if !ok {
		t.Fatalf("notification after the store %q, want READY=1 and STATUS=serving ADDR", ready.text)
	}
	c := dial(t, addr) // refused if READY came before the socket listened
	if gen, pid := c.hello(t); gen != 1 || pid != p.cmd.Process.Pid {
		t.Errorf("hello %d %d, want generation 1 and pid %d", gen, pid, p.cmd.Process.Pid)
	}
	c.conn.Close()
	p.signal(t, syscall.SIGTERM)
	notes.until(t, "STOPPING=1")
	if code := p.exitCode(t); code != exitStopped {
		t.Errorf("exit status %d after SIGTERM, want %d\n%s", code, exitStopped, p.stderr)
	}
}

// checkStored checks that m stores one descriptor named state holding
// generation gen.
func checkStored(t *testing.T, m message, gen uint64) {
	t.Helper()
	if m.text != "FDSTORE=1\nFDNAME=state" || len(m.files) != 1 {
		t.Fatalf("notification %q with %d descriptors, want FDSTORE=1, FDNAME=state and one descriptor", m.text, len(m.files))
	}
	if got, err := readGeneration(m.files[0]); err != nil || got != gen {
		t.Errorf("stored state holds generation %d (%v), want %d", got, err, gen)
	}
}

// TestGenerationSurvivesRestartsThroughTheFDStore plays the service
// manager: it holds the listening socket and what sdserver stores, and
// starts it twice with LISTEN_FDS. A client that connects while no server
// runs waits in the held socket's backlog for the second one.
func TestGenerationSurvivesRestartsThroughTheFDStore(t *testing.T) {
	addr, ln := heldListener(t)
	notes := newNotifySocket(t)
	env := []string{"NOTIFY_SOCKET=" + notes.path, "LISTEN_PID=self", "LISTEN_FDS=1", "LISTEN_FDNAMES=listen"}
	first := startProcess(t, []*os.File{ln}, env, "--exit-after", "1")
	stored := notes.next(t)
	closeOnCleanup(t, stored.files)
	checkStored(t, stored, 1)
	c := dial(t, addr)
	if gen, _ := c.hello(t); gen != 1 {
		t.Errorf("first start says generation %d, want 1", gen)
	}
	c.conn.Close()
	if code := first.exitCode(t); code != exitServed {
		t.Fatalf("exit status %d after --exit-after 1, want %d\n%s", code, exitServed, first.stderr)
	}
	if notes := notes.pending(t); !slices.Contains(notes, "STOPPING=1") {
		t.Errorf("first start's notifications %q, want STOPPING=1 among them", notes)
	}

	waiting := dial(t, addr) // no server runs: the kernel queues it
	env = []string{"NOTIFY_SOCKET=" + notes.path, "LISTEN_PID=self", "LISTEN_FDS=2", "LISTEN_FDNAMES=listen:state"}
	second := startProcess(t, []*os.File{ln, stored.files[0]}, env, "--exit-after", "1")
	if gen, pid := waiting.hello(t); gen != 2 || pid != second.cmd.Process.Pid {
		t.Errorf("the client queued between starts got hello %d %d, want generation 2 from pid %d", gen, pid, second.cmd.Process.Pid)
	}
	waiting.conn.Close()
	if code := second.exitCode(t); code != exitServed {
		t.Fatalf("second start: exit status %d, want %d\n%s", code, exitServed, second.stderr)
	}
	got := notes.until(t, "FDSTORE=1")
	if len(got) != 2 || got[0].text != "FDSTOREREMOVE=1\nFDNAME=state" || len(got[0].files) != 0 {
		t.Fatalf("second start's notifications %v, want FDSTOREREMOVE=1 of state, then FDSTORE=1", got)
	}
	checkStored(t, got[1], 2)
	if gen, err := readGeneration(stored.files[0]); err != nil || gen != 2 {
		t.Errorf("the held state holds generation %d (%v) after the second start, want 2", gen, err)
	}
}

// TestWatchdogFlag runs sdserver with WATCHDOG_USEC set: it pets at half
// the interval, and --no-watchdog never does.
func TestWatchdogFlag(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		pets bool
	}{
		{"default", nil, true},
		{"no-watchdog", []string{"--no-watchdog"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			notes := newNotifySocket(t)
			env := []string{"NOTIFY_SOCKET=" + notes.path, "WATCHDOG_USEC=40000"}
			p := startProcess(t, nil, env, append([]string{"--listen", "127.0.0.1:0"}, tc.args...)...)
			notes.until(t, "READY=1")
			// No event tells that a message will never come: watch 10
			// intervals (20 pets expected).
			pets, end := 0, time.Now().Add(400*time.Millisecond)
			for {
				m, err := notes.read(end)
				if err != nil {
					break
				}
				if m.text == "WATCHDOG=1" {
					pets++
				}
			}
			if tc.pets && pets < 5 {
				t.Errorf("%d WATCHDOG=1 in 400ms with WATCHDOG_USEC=40000, want one per 20ms", pets)
			}
			if !tc.pets && pets > 0 {
				t.Errorf("%d WATCHDOG=1 with --no-watchdog, want none", pets)
			}
			p.signal(t, syscall.SIGTERM)
			if code := p.exitCode(t); code != exitStopped {
				t.Errorf("exit status %d, want %d\n%s", code, exitStopped, p.stderr)
			}
		})
	}
}

// TestRefusesToStart gives sdserver what it cannot serve with: each must
// end it at once with status 1 and a message that names the problem.
func TestRefusesToStart(t *testing.T) {
	for _, tc := range []struct {
		name  string
		state string // content of a state memfd passed as the second descriptor; "" for none
		pipe  bool   // pass a pipe as the first descriptor instead of the listener
		want  string
	}{
		{name: "garbled state", state: "seven\n", want: `read the passed state descriptor: "seven\n": not a generation`},
		{name: "zero generation", state: "0\n", want: `read the passed state descriptor: "0\n": not a generation`},
		{name: "state too long", state: strings.Repeat("1", 30) + "\n", want: "more than 21 bytes"},
		{name: "last generation", state: "18446744073709551615\n", want: "generation 18446744073709551615 cannot advance"},
		{name: "not a socket", pipe: true, want: "take passed descriptor 3 (listen): not a listening stream socket"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr, ln := heldListener(t)
			files, names := []*os.File{ln}, "listen"
			if tc.pipe {
				r, w, err := os.Pipe()
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { r.Close(); w.Close() })
				files[0] = r
			}
			if tc.state != "" {
				files, names = append(files, memfdWith(t, tc.state)), names+":state"
			}
			env := []string{"LISTEN_PID=self", fmt.Sprintf("LISTEN_FDS=%d", len(files)), "LISTEN_FDNAMES=" + names}
			p := startProcess(t, files, env)
			if code := p.exitCode(t); code != exitFailed || !strings.Contains(p.stderr.String(), tc.want) {
				t.Errorf("exit status %d, stderr %q; want %d and %q", code, p.stderr, exitFailed, tc.want)
			}
			if tc.pipe {
				return
			}
			// Nothing was accepted: a client still waits in the backlog.
			c := dial(t, addr)
			c.conn.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
			if n, err := c.r.Read(make([]byte, 1)); n > 0 || err == io.EOF {
				t.Errorf("a server that refused to start answered a client (read %d, %v)", n, err)
			}
		})
	}
}

// memfdWith returns a state memfd holding content.
func memfdWith(t *testing.T, content string) *os.File {
	t.Helper()
	st, err := newState()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if _, err := st.file.WriteAt([]byte(content), 0); err != nil {
		t.Fatal(err)
	}
	if err := st.file.Truncate(int64(len(content))); err != nil {
		t.Fatal(err)
	}
	return st.file
}

// TestKeepsTheFirstOfTwoStates: a store that kept a duplicate passes two
// descriptors named state; sdserver uses the first and closes the other.
func TestKeepsTheFirstOfTwoStates(t *testing.T) {
	addr, ln := heldListener(t)
	env := []string{"LISTEN_PID=self", "LISTEN_FDS=3", "LISTEN_FDNAMES=listen:state:state"}
	p := startProcess(t, []*os.File{ln, memfdWith(t, "5\n"), memfdWith(t, "9\n")}, env, "--exit-after", "1")
	c := dial(t, addr)
	if gen, _ := c.hello(t); gen != 6 {
		t.Errorf("hello generation %d, want 6: one more than the first state's 5", gen)
	}
	c.conn.Close()
	if code := p.exitCode(t); code != exitServed || !strings.Contains(p.stderr.String(), "descriptor 5 is a second state; closing it") {
		t.Errorf("exit status %d, stderr %q; want %d and the second state closed", code, p.stderr, exitServed)
	}
}
