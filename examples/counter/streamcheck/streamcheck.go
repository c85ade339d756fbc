// Package streamcheck is the client side shared by counter-client and
// broadcast-client: it connects to a server that streams numbered lines,
// checks that every number is exactly one more than the one before, and
// reports a gap, a duplicate, a garbled line or a lost connection.
package streamcheck

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

// Exit statuses of Run.
const (
	ExitOK        = 0 // N numbers (or D elapsed) with no gap or duplicate
	ExitViolation = 1 // a gap, a duplicate or a garbled line
	ExitLost      = 2 // could not connect, the connection was lost, or bad usage
)

// Format says how a line carries its number.
type Format struct {
	// Number extracts the number from a line (without its newline).
	Number func(line string) (uint64, error)
	// First is the number the stream must start with; 0 accepts any.
	First uint64
	// Version, if set, says which version of the server wrote a line:
	// the verdict lists them in the order they served the stream.
	Version func(line string) string
}

// Counter is counter-server's format: "<n>", or "<n> v<version>" from a
// build other than version 1, starting at 1.
var Counter = Format{Number: func(line string) (uint64, error) {
	n, tag, ok := strings.Cut(line, " ")
	if ok && (len(tag) < 2 || tag[0] != 'v' || strings.ContainsAny(tag, " \t")) {
		return 0, fmt.Errorf("%q is no version tag", tag)
	}
	return parseNumber(n)
}, Version: func(line string) string {
	if _, tag, ok := strings.Cut(line, " "); ok {
		return tag
	}
	return "v1"
}, First: 1}

// Broadcast is broadcast-server's format: "<seq> <payload>", joining the
// stream anywhere.
var Broadcast = Format{Number: func(line string) (uint64, error) {
	for i := 0; i < len(line); i++ {
		if line[i] == ' ' {
			return parseNumber(line[:i])
		}
	}
	return 0, errors.New("no payload after the sequence number")
}}

// parseNumber accepts a plain positive decimal.
func parseNumber(s string) (uint64, error) {
	if s == "" || s[0] == '0' || s[0] == '+' {
		return 0, fmt.Errorf("not a positive decimal")
	}
	return strconv.ParseUint(s, 10, 64)
}

// Run is a client's main: it parses args (--addr, --count, --duration),
// reads the stream and writes the verdict, returning the exit status.
func Run(prog string, format Format, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet(prog, flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "", "server address, HOST:PORT")
	count := fs.Uint64("count", 0, "stop after this many numbers (0: no limit)")
	duration := fs.Duration("duration", 0, "stop after this long (0: no limit)")
	if err := fs.Parse(args); err != nil {
		return ExitLost
	}
	if *addr == "" || fs.NArg() > 0 {
		fmt.Fprintf(stderr, "usage: %s --addr HOST:PORT [--count N] [--duration D]\n", prog)
		return ExitLost
	}
	conn, err := net.Dial("tcp", *addr)
	if err != nil {
		fmt.Fprintf(stderr, "%s: connect: %v\n", prog, err)
		return ExitLost
	}
	defer conn.Close()
	if *duration > 0 {
		conn.SetReadDeadline(time.Now().Add(*duration))
	}
	c := checker{format: format, count: *count}
	err = c.read(bufio.NewReader(conn))
	return c.verdict(prog, err, stdout, stderr)
}

// checker follows one stream.
type checker struct {
	format   Format
	count    uint64 // stop after this many; 0: never
	received uint64
	last     uint64
	versions []string // the servers' versions in the order they served
}

// errDone ends a stream that reached its count.
var errDone = errors.New("count reached")

// violation is a gap, a duplicate or a garbled line.
type violation struct{ msg string }

func (v *violation) Error() string { return v.msg }

// read checks lines until the count, an error or a violation.
func (c *checker) read(r *bufio.Reader) error {
	for c.count == 0 || c.received < c.count {
		line, err := r.ReadString('\n')
		if err != nil {
			if line != "" && errors.Is(err, io.EOF) {
				return fmt.Errorf("connection closed mid-line after %q", line)
			}
			return err
		}
		if err := c.check(line[:len(line)-1]); err != nil {
			return err
		}
	}
	return errDone
}

func (c *checker) check(line string) error {
	n, err := c.format.Number(line)
	if err != nil {
		return &violation{fmt.Sprintf("garbled line %q: %v", line, err)}
	}
	want := c.last + 1
	if c.received == 0 {
		want = c.format.First
	}
	switch {
	case want == 0: // the first line of a stream joined anywhere
	case n > want:
		return &violation{fmt.Sprintf("gap: expected %d got %d", want, n)}
	case n < want:
		return &violation{fmt.Sprintf("duplicate: expected %d got %d", want, n)}
	}
	c.received++
	c.last = n
	if c.format.Version != nil {
		if v := c.format.Version(line); len(c.versions) == 0 || c.versions[len(c.versions)-1] != v {
			c.versions = append(c.versions, v)
		}
	}
	return nil
}

func (c *checker) verdict(prog string, err error, stdout, stderr io.Writer) int {
	var v *violation
	switch {
	case errors.Is(err, errDone), errors.Is(err, os.ErrDeadlineExceeded):
		served := ""
		if len(c.versions) > 1 {
			served = ", served by " + strings.Join(c.versions, " then ")
		}
		fmt.Fprintf(stdout, "ok: received %d numbers, last %d, no gap or duplicate%s\n", c.received, c.last, served)
		return ExitOK
	case errors.As(err, &v):
		fmt.Fprintf(stderr, "%s\n", v.msg)
		return ExitViolation
	}
	fmt.Fprintf(stderr, "%s: connection lost after %d numbers (last %d): %v\n", prog, c.received, c.last, err)
	return ExitLost
}
