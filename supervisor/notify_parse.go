package supervisor

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// notifyMaxSize is the largest sd_notify datagram accepted, in bytes:
// systemd's NOTIFY_BUFFER_MAX, which is PIPE_BUF. systemd drops a longer
// one as truncated, and so do we, so that what a service may send is the
// same under both.
const notifyMaxSize = 4096

// errnoMax is the largest ERRNO= systemd accepts (ERRNO_MAX).
const errnoMax = 4095

// notifyMsg is one sd_notify datagram, parsed (sd_notify(3)). It states
// what the sender said; which of it applies is the service runtime's
// business: systemd lets STOPPING=1 win over READY=1 and READY=1 over
// RELOADING=1, takes READY=1 with RELOADING=1 and a MONOTONIC_USEC= as "a
// reload began and finished", and ignores FDPOLL= and FDNAME= without
// FDSTORE=1 or FDSTOREREMOVE=1.
type notifyMsg struct {
	// PID, UID and GID are the sender's credentials from SCM_CREDENTIALS,
	// checked by the kernel: a process may state only its own, unless it
	// has CAP_SYS_ADMIN (pid), CAP_SETUID (uid) or CAP_SETGID (gid);
	// systemd-notify, as root, sends as its parent. serve hands on only
	// datagrams with a pid; they are 0 from parseNotify alone.
	PID      int
	UID, GID uint32

	Ready, Reloading, Stopping bool    // READY=1, RELOADING=1, STOPPING=1
	Status                     *string // STATUS=; "" clears the status text
	Errno                      *int    // ERRNO=, 0 to 4095
	MainPID                    int     // MAINPID= (>0), 0 if absent

	Watchdog          bool    // WATCHDOG=1
	WatchdogTrigger   bool    // WATCHDOG=trigger
	WatchdogUSec      *uint64 // WATCHDOG_USEC= (0 disables)
	ExtendTimeoutUSec *uint64 // EXTEND_TIMEOUT_USEC=
	MonotonicUSec     uint64  // MONOTONIC_USEC= (with RELOADING=1), 0 if absent

	FDStore, FDStoreRemove bool   // FDSTORE=1, FDSTOREREMOVE=1 (never both)
	FDName                 string // FDNAME= ("" if absent or empty; valid by checkFDName otherwise)
	FDPoll                 *bool  // FDPOLL=0 -> false; FDPOLL=1 -> true
	Barrier                bool   // BARRIER=1, then the only line, with exactly one descriptor

	// Unknown holds the key of every line not understood, in order.
	// systemd ignores them; we log them.
	Unknown []string

	// FDs are the descriptors that came with the datagram, close-on-exec.
	// Whoever gets the message owns them: the fd store takes them for
	// FDSTORE=1, a barrier's is closed once every earlier datagram is
	// handled, and any other are closed at once (as systemd does).
	FDs []int
}

// closeFDs closes the message's descriptors.
func (m *notifyMsg) closeFDs() {
	closeFDs(m.FDs)
	m.FDs = nil
}

// parseNotify parses the text of one sd_notify datagram: KEY=VALUE lines
// separated by '\n', a trailing newline and empty lines allowed. Where a
// key repeats, every value is checked and the first counts, as in systemd
// (strv_find_startswith). An error, wrapping errBadNotify, rejects the
// whole datagram.
//
// We are stricter than systemd, which skips what it cannot use and applies
// the rest: a datagram with any of these is refused instead.
//   - text that is not UTF-8 (systemd checks only STATUS=) or holds a NUL
//     before its last byte (systemd refuses that too);
//   - a line without '=' or with an empty key;
//   - READY, RELOADING, STOPPING, FDSTORE, FDSTOREREMOVE or BARRIER other
//     than 1, WATCHDOG other than 1 or trigger, FDPOLL other than 0 or 1;
//   - numbers other than plain decimal: systemd's safe_atou64 also takes
//     leading blanks, a sign and 0x/0o/0b prefixes;
//   - ERRNO outside 0 to 4095 that is no errno name (systemd: the same);
//   - MAINPID not in 1 to 2^31-1 (systemd: the same, parse_pid);
//   - an FDNAME= systemd refuses (it then stores under "stored" anyway);
//   - FDSTOREREMOVE=1 with no FDNAME (systemd ignores the removal), or
//     together with FDSTORE=1 (systemd removes, and closes the descriptors);
//   - BARRIER=1 with any other line (systemd ignores the whole datagram).
//
// And looser in one place: FDNAME= with an empty value reads as no FDNAME
// (systemd names the descriptor ""; our store never holds that name).
// MONOTONIC_USEC=18446744073709551615 is systemd's USEC_INFINITY, "unset",
// and reads as absent.
func parseNotify(b []byte) (notifyMsg, error) {
	text, err := notifyText(b)
	if err != nil {
		return notifyMsg{}, fmt.Errorf("%w: %w", errBadNotify, err)
	}
	p := notifyParser{seen: map[string]bool{}}
	for i, line := range strings.Split(text, "\n") {
		if line == "" {
			continue
		}
		if err := p.line(line); err != nil {
			return notifyMsg{}, fmt.Errorf("%w: line %d: %w", errBadNotify, i+1, err)
		}
	}
	if err := p.check(); err != nil {
		return notifyMsg{}, fmt.Errorf("%w: %w", errBadNotify, err)
	}
	return p.m, nil
}

// notifyText checks a datagram's size and encoding and returns its text.
func notifyText(b []byte) (string, error) {
	if len(b) > notifyMaxSize {
		return "", fmt.Errorf("%d bytes, at most %d", len(b), notifyMaxSize)
	}
	b = bytes.TrimSuffix(b, []byte{0}) // one trailing NUL is allowed, as systemd does
	switch {
	case bytes.IndexByte(b, 0) >= 0:
		return "", errors.New("embedded NUL")
	case !utf8.Valid(b):
		return "", errors.New("not UTF-8")
	}
	return string(b), nil
}

// notifyParser accumulates a datagram's lines into m.
type notifyParser struct {
	m     notifyMsg
	seen  map[string]bool // known keys already read
	lines int             // non-empty lines
}

func (p *notifyParser) line(line string) error {
	p.lines++
	key, value, ok := strings.Cut(line, "=")
	if !ok || key == "" {
		return fmt.Errorf("%q: want KEY=VALUE", clipNotify(line))
	}
	set, known := notifyKeys[key]
	if !known {
		p.m.Unknown = append(p.m.Unknown, key)
		return nil
	}
	dst := &p.m
	if p.seen[key] {
		dst = &notifyMsg{} // checked, not kept: the first value counts
	}
	p.seen[key] = true
	if err := set(dst, value); err != nil {
		return fmt.Errorf("%s=%q: %w", key, clipNotify(value), err)
	}
	return nil
}

// check applies the rules that span lines.
func (p *notifyParser) check() error {
	m := &p.m
	switch {
	case m.Barrier && p.lines != 1:
		return errors.New("BARRIER=1 must be the only line")
	case m.FDStore && m.FDStoreRemove:
		return errors.New("FDSTORE=1 and FDSTOREREMOVE=1 together")
	case m.FDStoreRemove && m.FDName == "":
		return errors.New("FDSTOREREMOVE=1 without FDNAME=")
	}
	return nil
}

// clipNotify shortens s for an error message.
func clipNotify(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	for i := max; i > 0; i-- { // cut on a rune boundary
		if utf8.RuneStart(s[i]) {
			return s[:i] + "…"
		}
	}
	return s[:max] + "…"
}
