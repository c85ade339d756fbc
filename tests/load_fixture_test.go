package tests

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// hammerTimeout bounds one connection of hammer: connecting (a SYN the
// kernel dropped from a full backlog is sent again only after a second)
// and reading the server's first line.
const hammerTimeout = 2 * time.Second

// loadResult counts hammer's connections by outcome. A connection under
// way when the context ended is not counted.
type loadResult struct {
	// OK counts the connections that read the server's first line.
	OK int
	// Refused counts the connections refused at connect (ECONNREFUSED:
	// nothing listened) or reset before the first line, while connecting
	// or reading (ECONNRESET: a listener closed with the connection in its
	// backlog, or a server gone): what a restart without a held socket
	// costs its clients. A reset that wins a race with the read can reach
	// it as an end of file instead, counted in Other.
	Refused int
	// Other counts every other failure by what went wrong, without
	// addresses: "connect: timeout", "connect: cannot assign requested
	// address", "read the first line: EOF", "read the first line: timeout",
	// "read the first line: partial line, then EOF"... Never nil.
	Other map[string]int
}

// hammer connects to the TCP address addr over and over from workers
// goroutines (at least one) until ctx ends, and returns the counts. Each
// connection reads the server's first line within hammerTimeout and
// closes.
//
// The connecting side closes first, so each connection leaves a loopback
// port in TIME_WAIT; Linux reuses those after a second on loopback
// (net.ipv4.tcp_tw_reuse=2, the default), so only a rate above some 28,000
// connections a second runs out of ports ("connect: cannot assign
// requested address").
func hammer(ctx context.Context, addr string, workers int) loadResult {
	results := make([]loadResult, max(workers, 1))
	var wg sync.WaitGroup
	for i := range results {
		wg.Go(func() {
			r := &results[i]
			r.Other = map[string]int{}
			for !runOver(ctx) {
				outcome := hammerOnce(ctx, addr)
				if runOver(ctx) {
					return // cut short by the end of the run, not the server
				}
				r.add(outcome)
			}
		})
	}
	wg.Wait()
	total := loadResult{Other: map[string]int{}}
	for _, r := range results {
		total.OK += r.OK
		total.Refused += r.Refused
		for k, n := range r.Other {
			total.Other[k] += n
		}
	}
	return total
}

// runOver reports whether ctx has ended or its deadline has passed: the
// context's timer fires some time after the deadline (long after on a busy
// machine), and meanwhile every dial fails at once with "i/o timeout".
func runOver(ctx context.Context) bool {
	deadline, ok := ctx.Deadline()
	return ctx.Err() != nil || ok && !time.Now().Before(deadline)
}

// Outcomes of one connection besides the texts of Other.
const (
	outcomeOK      = "ok"
	outcomeRefused = "refused"
)

func (r *loadResult) add(outcome string) {
	switch outcome {
	case outcomeOK:
		r.OK++
	case outcomeRefused:
		r.Refused++
	default:
		r.Other[outcome]++
	}
}

// hammerOnce makes one connection and says how it went: outcomeOK,
// outcomeRefused, or what failed.
func hammerOnce(ctx context.Context, addr string) string {
	deadline := time.Now().Add(hammerTimeout)
	d := net.Dialer{Deadline: deadline}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) {
		return outcomeRefused
	}
	if err != nil {
		return failure("connect", err)
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.SetReadDeadline(time.Now()) })
	defer stop()
	if err := conn.SetReadDeadline(deadline); err != nil {
		return failure("set the deadline", err)
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	switch {
	case err == nil:
		return outcomeOK
	case errors.Is(err, syscall.ECONNRESET):
		return outcomeRefused
	case errors.Is(err, io.EOF) && line != "":
		return "read the first line: partial line, then EOF"
	}
	return failure("read the first line", err)
}

// failure names what went wrong at stage without the addresses and ports
// that net's errors carry, so that failures of one kind count together.
func failure(stage string, err error) string {
	var (
		errno syscall.Errno
		nerr  net.Error
	)
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		return stage + ": timeout"
	case errors.Is(err, io.EOF):
		return stage + ": EOF"
	case errors.As(err, &errno): // before Timeout, which EAGAIN also reports
		return stage + ": " + errno.Error()
	case errors.As(err, &nerr) && nerr.Timeout(): // the dialer's deadline
		return stage + ": timeout"
	}
	return stage + ": " + err.Error()
}

// portBelowEphemeral returns a TCP port of 127.0.0.1 that nothing listens
// on, for a server that binds its own. It is below the kernel's ephemeral
// range (ip_local_port_range), where clients' ports come from: while
// nothing listens on a port of that range (a server restarting), a client
// given that very port as its own connects to itself (TCP's simultaneous
// open), and then holds the port the server wants to bind.
func portBelowEphemeral(t testing.TB) int {
	t.Helper()
	low := 32768
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		var lo, hi int
		if _, err := fmt.Sscan(string(b), &lo, &hi); err == nil {
			low = lo
		}
	}
	const first = 10000 // above the ports services are known by
	if low <= first+100 {
		t.Skipf("the ephemeral port range starts at %d: no free port below it above %d", low, first)
	}
	start := first + rand.IntN(low-first)
	for i := range 100 {
		port := first + (start-first+i)%(low-first)
		ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err == nil {
			ln.Close()
			return port
		}
	}
	t.Fatalf("no free port among 100 tried from %d below %d", start, low)
	return 0
}
