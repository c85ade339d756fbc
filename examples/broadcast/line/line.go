// Package line is the format of broadcast-server's stream, shared by the
// server that writes it and the clients that check it.
//
// A line is "<seq> <payload>" from a build of version 1 and "<seq>
// <payload> v<version>" from any other, so that a client sees which
// binary served each line: across a live upgrade from version 1 to 2 its
// verdict says "served by v1 then v2".
package line

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/migrate-run/migrate/examples/counter/streamcheck"
)

// Payload is what every line carries after its sequence number.
const Payload = "tick"

// Append appends line seq, as written by a build of version, and its
// newline to b.
func Append(b []byte, seq uint64, version string) []byte {
	b = strconv.AppendUint(b, seq, 10)
	b = append(append(b, ' '), Payload...)
	if version != "1" {
		b = append(append(b, " v"...), version...)
	}
	return append(b, '\n')
}

// Parse returns the sequence number of a line (without its newline) and
// the version that wrote it ("v1", "v2"...). Anything but a positive
// decimal, the payload and at most a version tag is an error.
func Parse(l string) (seq uint64, version string, err error) {
	f := strings.Split(l, " ")
	switch {
	case len(f) < 2 || len(f) > 3:
		return 0, "", errors.New("want <seq> " + Payload + " [v<version>]")
	case f[1] != Payload:
		return 0, "", fmt.Errorf("payload %q, want %q", f[1], Payload)
	case f[0] == "" || f[0][0] < '1' || f[0][0] > '9':
		return 0, "", fmt.Errorf("sequence number %q is not a positive decimal", f[0])
	}
	seq, err = strconv.ParseUint(f[0], 10, 64)
	if err != nil {
		return 0, "", fmt.Errorf("sequence number %q: %w", f[0], err)
	}
	version = "v1"
	if len(f) == 3 {
		if len(f[2]) < 2 || f[2][0] != 'v' {
			return 0, "", fmt.Errorf("%q is no version tag", f[2])
		}
		version = f[2]
	}
	return seq, version, nil
}

// Format is the stream for streamcheck: joining anywhere, and naming the
// versions that served it.
var Format = streamcheck.Format{
	Number: func(l string) (uint64, error) {
		seq, _, err := Parse(l)
		return seq, err
	},
	Version: func(l string) string {
		_, v, _ := Parse(l) // called on lines Number accepted
		return v
	},
}
