//go:build linux

package launcher

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// The config travels in a compact binary form that the trampoline decodes
// without reflection (encoding/json spent a tenth of the trampoline's CPU
// building its field caches and decoding). Every integer is a varint
// (encoding/binary), every string and list is preceded by its length, and
// the fields follow in this order:
//
//	protocol    uvarint, protocolVersion: always first
//	args, env   list of strings
//	cwd         string
//	uid, gid    uvarint
//	groups      list of uvarint
//	umask       0, or 1 then uvarint
//	rlimits     list of (string type, uvarint soft, uvarint hard)
//	noNewPrivs  byte 0 or 1
//	oomScoreAdj 0, or 1 then varint
//	sigMask     uvarint
//	listenPID   byte 0 or 1
//	pidEnv      list of strings
//	keep        list of uvarint
//	cgroups     list of strings
//
// Nothing may follow. decodeConfig refuses anything else.

// encodeConfig returns c in its binary form.
func encodeConfig(c *config) []byte {
	var e encoder
	e.uint(uint64(c.Protocol))
	e.strings(c.Args)
	e.strings(c.Env)
	e.string(c.Cwd)
	e.uint(uint64(c.UID))
	e.uint(uint64(c.GID))
	e.uint(uint64(len(c.Groups)))
	for _, g := range c.Groups {
		e.uint(uint64(g))
	}
	e.bool(c.Umask != nil)
	if c.Umask != nil {
		e.uint(uint64(*c.Umask))
	}
	e.uint(uint64(len(c.Rlimits)))
	for _, rl := range c.Rlimits {
		e.string(rl.Type)
		e.uint(rl.Soft)
		e.uint(rl.Hard)
	}
	e.bool(c.NoNewPrivs)
	e.bool(c.OOMScoreAdj != nil)
	if c.OOMScoreAdj != nil {
		e.b = binary.AppendVarint(e.b, int64(*c.OOMScoreAdj))
	}
	e.uint(uint64(c.SigMask))
	e.bool(c.ListenPID)
	e.strings(c.PIDEnv)
	e.uint(uint64(len(c.Keep)))
	for _, fd := range c.Keep {
		e.uint(uint64(fd))
	}
	e.strings(c.Cgroups)
	return e.b
}

type encoder struct{ b []byte }

func (e *encoder) uint(v uint64)   { e.b = binary.AppendUvarint(e.b, v) }
func (e *encoder) string(s string) { e.uint(uint64(len(s))); e.b = append(e.b, s...) }

func (e *encoder) strings(ss []string) {
	e.uint(uint64(len(ss)))
	for _, s := range ss {
		e.string(s)
	}
}

func (e *encoder) bool(v bool) {
	if v {
		e.b = append(e.b, 1)
	} else {
		e.b = append(e.b, 0)
	}
}

// errMalformed is the failure of a config that is not in the binary form.
var errMalformed = errors.New("malformed config")

// peekProtocol returns the protocol version a config starts with.
func peekProtocol(b []byte) (uint64, bool) {
	v, n := binary.Uvarint(b)
	return v, n > 0
}

// parseConfig decodes the binary form; it does not validate.
func parseConfig(b []byte) (*config, error) {
	d := decoder{b: b}
	var c config
	c.Protocol = int(d.bounded(math.MaxInt32))
	c.Args = d.strings()
	c.Env = d.strings()
	c.Cwd = d.string()
	c.UID = uint32(d.bounded(math.MaxUint32))
	c.GID = uint32(d.bounded(math.MaxUint32))
	if n := d.count(); n > 0 {
		c.Groups = make([]uint32, n)
		for i := range c.Groups {
			c.Groups[i] = uint32(d.bounded(math.MaxUint32))
		}
	}
	if d.bool() {
		umask := uint32(d.bounded(math.MaxUint32))
		c.Umask = &umask
	}
	if n := d.count(); n > 0 {
		c.Rlimits = make([]specs.POSIXRlimit, n)
		for i := range c.Rlimits {
			c.Rlimits[i] = specs.POSIXRlimit{Type: d.string(), Soft: d.uint(), Hard: d.uint()}
		}
	}
	c.NoNewPrivs = d.bool()
	if d.bool() {
		adj := int(d.int(math.MinInt32, math.MaxInt32))
		c.OOMScoreAdj = &adj
	}
	c.SigMask = SigSet(d.uint())
	c.ListenPID = d.bool()
	c.PIDEnv = d.strings()
	c.Keep = make([]int, d.count())
	for i := range c.Keep {
		c.Keep[i] = int(d.bounded(math.MaxInt32))
	}
	c.Cgroups = d.strings()
	if d.err == nil && len(d.b) > 0 {
		d.fail("%d bytes after the config", len(d.b))
	}
	if d.err != nil {
		return nil, d.err
	}
	return &c, nil
}

// decoder reads the binary form; after the first error every read returns
// a zero value and err keeps that error.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: "+format, append([]any{errMalformed}, args...)...)
	}
	d.b = nil
}

func (d *decoder) uint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("bad or missing number")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) bounded(limit uint64) uint64 {
	v := d.uint()
	if v > limit {
		d.fail("number %d above %d", v, limit)
		return 0
	}
	return v
}

func (d *decoder) int(lo, hi int64) int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 || v < lo || v > hi {
		d.fail("bad or missing signed number")
		return 0
	}
	d.b = d.b[n:]
	return v
}

// count reads a list's length, which cannot exceed the bytes left: every
// element takes at least one.
func (d *decoder) count() int {
	n := d.uint()
	if n > uint64(len(d.b)) {
		d.fail("list of %d elements in %d bytes", n, len(d.b))
		return 0
	}
	return int(n)
}

func (d *decoder) string() string {
	n := d.uint()
	if n > uint64(len(d.b)) {
		d.fail("string of %d bytes in %d", n, len(d.b))
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

func (d *decoder) strings() []string {
	n := d.count()
	if n == 0 {
		return nil
	}
	ss := make([]string, n)
	for i := range ss {
		ss[i] = d.string()
	}
	return ss
}

func (d *decoder) bool() bool {
	if len(d.b) == 0 || d.b[0] > 1 {
		d.fail("bad or missing flag")
		return false
	}
	v := d.b[0] == 1
	d.b = d.b[1:]
	return v
}
