package tests

import (
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/migrate-run/migrate/internal/benchout"
	"golang.org/x/sys/unix"
)

// restartLines is how many numbers a client reads before each plain
// restart: the session's progress that the restart throws away.
const restartLines = 50

// BenchmarkReportPeerRestart restarts counter-server the plain way, without
// continuations, with a client of the benchmark's streaming from it:
// SIGTERM to its process group (counter-server and the child serving the
// client, as a service manager stops a service), then the same command
// again on the same port. Each cycle notes what the client's read returned,
// the time from the SIGTERM until a new connection (dialled again every
// millisecond while refused) receives its first number, and where the new
// stream starts. It writes the peer-restart section.
func BenchmarkReportPeerRestart(b *testing.B) {
	cycles := benchout.Pick(20, 5)
	counter := binPath(b, "counter-server")
	addr := fmt.Sprintf("127.0.0.1:%d", portBelowEphemeral(b))
	logf := filepath.Join(b.TempDir(), "counter-server.log")
	// counter-server's serving child outlives its parent by a moment when
	// both get SIGTERM: as the subreaper the benchmark reaps it (this
	// machine's init reaps nothing).
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		b.Fatalf("PR_SET_CHILD_SUBREAPER: %v", err)
	}
	defer unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)

	tree, err := startCounterTree(nil, counter, logf, addr, nil, false)
	if err != nil {
		b.Fatal(err)
	}
	defer func() { tree.kill() }()
	stream, _, err := dialServed(addr)
	if err != nil {
		b.Fatalf("first connection: %v\n%s", err, tree.log())
	}
	defer func() { stream.close() }()

	saw := map[string]int{}
	var reconnect []time.Duration
	var lost []int
	refusedDials, fromOne := 0, 0
	for i := range cycles {
		if err := stream.waitLines(restartLines, criuTimeout); err != nil {
			b.Fatalf("cycle %d: %v\n%s", i+1, err, tree.log())
		}
		if err := tree.findChild(); err != nil {
			b.Fatal(err)
		}
		t0 := time.Now()
		if err := unix.Kill(-tree.root, unix.SIGTERM); err != nil {
			b.Fatal(err)
		}
		if err := tree.reap(); err != nil {
			b.Fatal(err)
		}
		end := stream.waitEnd(criuTimeout)
		_, last, _, _ := stream.state()
		stream.close()
		saw[clientSaw(end)]++
		lost = append(lost, int(last))

		tree, err = startCounterTree(nil, counter, logf, addr, nil, false)
		if err != nil {
			b.Fatal(err)
		}
		var refused int
		stream, refused, err = dialServed(addr)
		if err != nil {
			b.Fatalf("cycle %d: reconnect: %v\n%s", i+1, err, tree.log())
		}
		first, _, _, _ := stream.state()
		at, _ := stream.firstAt()
		reconnect = append(reconnect, at.Sub(t0))
		refusedDials += refused
		if first == 1 {
			fromOne++
		}
	}
	slices.Sort(lost)
	res := benchout.PlainRestart{
		Cycles:      cycles,
		ClientSaw:   describeSaw(saw, cycles),
		Reconnect:   benchout.Summarize(reconnect),
		LostNumbers: lost[len(lost)/2],
		Notes: []string{
			fmt.Sprintf("counter-server without a supervisor (--interval %s) on a port of its own; a restart is SIGTERM to its process group, as a service manager stops a service, then the same command again", criuInterval),
			fmt.Sprintf("each session streamed at least %d numbers before its restart (median %d): all of them lost, since in %d of %d cycles the new connection's stream began again at 1", restartLines, lost[len(lost)/2], fromOne, cycles),
			fmt.Sprintf("while the server was down the client's dials (one a millisecond) were refused %d times in all", refusedDials),
		},
	}
	if fromOne != cycles {
		b.Errorf("the new connection began at 1 in %d of %d cycles: a plain restart cannot keep a session's state", fromOne, cycles)
	}
	b.Logf("plain restart, %d cycles: the client saw %s; served again after median %.1f ms p99 %.1f; %d numbers lost per cycle (median); %d dials refused",
		cycles, res.ClientSaw, res.Reconnect.Median, res.Reconnect.P99, res.LostNumbers, refusedDials)
	if err := benchout.Write(benchout.SectionPeerRestart, res); err != nil {
		b.Fatal(err)
	}
}

// dialServed connects to addr, dialling again every millisecond while the
// connection is refused, until a connection receives its first number (10 s
// at most). It returns the stream and how many dials were refused.
func dialServed(addr string) (*numberStream, int, error) {
	deadline := time.Now().Add(10 * time.Second)
	refused := 0
	for {
		conn, err := net.DialTimeout("tcp", addr, time.Until(deadline))
		if err == nil {
			s := newNumberStream(conn)
			if err := s.waitLines(1, time.Until(deadline)); err != nil {
				s.close()
				return nil, refused, err
			}
			return s, refused, nil
		}
		if !errors.Is(err, syscall.ECONNREFUSED) || time.Now().After(deadline) {
			return nil, refused, err
		}
		refused++
		time.Sleep(time.Millisecond) // a client's retry interval; nothing tells it the server is back
	}
}

// clientSaw names how a stream ended, without addresses.
func clientSaw(err error) string {
	switch {
	case err == nil:
		return "nothing: the stream went on"
	case errors.Is(err, io.EOF):
		return "the connection closed mid-stream (read: EOF)"
	case errors.Is(err, syscall.ECONNRESET):
		return "the connection reset mid-stream (read: connection reset by peer)"
	}
	return failure("read", err)
}

// describeSaw lists what the client saw, most often first, with how
// often: "... (18 of 20), ... (2 of 20)".
func describeSaw(saw map[string]int, cycles int) string {
	kinds := make([]string, 0, len(saw))
	for k := range saw {
		kinds = append(kinds, k)
	}
	slices.SortFunc(kinds, func(a, b string) int { return saw[b] - saw[a] })
	parts := make([]string, len(kinds))
	for i, k := range kinds {
		parts[i] = fmt.Sprintf("%s (%d of %d)", k, saw[k], cycles)
	}
	return strings.Join(parts, ", ")
}
