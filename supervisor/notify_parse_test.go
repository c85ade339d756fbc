package supervisor

import (
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

func ptr[T any](v T) *T { return &v }

// The datagrams services send read as sd_notify(3) says, with systemd's
// choices where it makes one: the first of a repeated key counts, one
// trailing NUL is fine, ERRNO takes a name, USEC_INFINITY is no timestamp.
func TestParseNotify(t *testing.T) {
	for _, c := range []struct {
		in   string
		want notifyMsg
	}{
		{"", notifyMsg{}},
		{"READY=1", notifyMsg{Ready: true}},
		{"READY=1\n", notifyMsg{Ready: true}},
		{"\n\nREADY=1\n\n", notifyMsg{Ready: true}},
		{"READY=1\x00", notifyMsg{Ready: true}},
		{"READY=1\nSTATUS=Serving 3 clients\nMAINPID=42\n", notifyMsg{Ready: true, Status: ptr("Serving 3 clients"), MainPID: 42}},
		{"STOPPING=1\nREADY=1\nRELOADING=1", notifyMsg{Stopping: true, Ready: true, Reloading: true}},
		{"STATUS=", notifyMsg{Status: ptr("")}},
		{"STATUS=a=b", notifyMsg{Status: ptr("a=b")}},
		{"STATUS=héllo ✓", notifyMsg{Status: ptr("héllo ✓")}},
		{"STATUS=first\nSTATUS=second", notifyMsg{Status: ptr("first")}},
		{"ERRNO=0", notifyMsg{Errno: ptr(0)}},
		{"ERRNO=2", notifyMsg{Errno: ptr(2)}},
		{"ERRNO=4095", notifyMsg{Errno: ptr(4095)}},
		{"ERRNO=ENOENT", notifyMsg{Errno: ptr(2)}},
		{"ERRNO=EPIPE", notifyMsg{Errno: ptr(32)}},
		{"MAINPID=7\nMAINPID=8", notifyMsg{MainPID: 7}},
		{"MAINPID=2147483647", notifyMsg{MainPID: 2147483647}},
		{"WATCHDOG=1", notifyMsg{Watchdog: true}},
		{"WATCHDOG=trigger", notifyMsg{WatchdogTrigger: true}},
		{"WATCHDOG_USEC=0", notifyMsg{WatchdogUSec: ptr[uint64](0)}},
		{"WATCHDOG_USEC=30000000", notifyMsg{WatchdogUSec: ptr[uint64](30000000)}},
		{"EXTEND_TIMEOUT_USEC=5000000", notifyMsg{ExtendTimeoutUSec: ptr[uint64](5000000)}},
		{"RELOADING=1\nMONOTONIC_USEC=123456", notifyMsg{Reloading: true, MonotonicUSec: 123456}},
		{"MONOTONIC_USEC=18446744073709551615", notifyMsg{}},
		{"FDSTORE=1", notifyMsg{FDStore: true}},
		{"FDSTORE=1\nFDNAME=db\nFDPOLL=0", notifyMsg{FDStore: true, FDName: "db", FDPoll: ptr(false)}},
		{"FDSTORE=1\nFDNAME=db\nFDPOLL=1", notifyMsg{FDStore: true, FDName: "db", FDPoll: ptr(true)}},
		{"FDSTORE=1\nFDNAME=", notifyMsg{FDStore: true}},
		{"FDSTORE=1\nFDNAME=" + strings.Repeat("n", 255), notifyMsg{FDStore: true, FDName: strings.Repeat("n", 255)}},
		{"FDSTOREREMOVE=1\nFDNAME=db", notifyMsg{FDStoreRemove: true, FDName: "db"}},
		{"BARRIER=1", notifyMsg{Barrier: true}},
		{"BARRIER=1\n", notifyMsg{Barrier: true}},
		{"X_CUSTOM=1\nREADY=1\nBUSERROR=org.example.Failed\nNOTIFYACCESS=all", notifyMsg{Ready: true, Unknown: []string{"X_CUSTOM", "BUSERROR", "NOTIFYACCESS"}}},
		{"ready=1", notifyMsg{Unknown: []string{"ready"}}},
		{strings.Repeat("S", notifyMaxSize-2) + "=1", notifyMsg{Unknown: []string{strings.Repeat("S", notifyMaxSize-2)}}},
	} {
		got, err := parseNotify([]byte(c.in))
		if err != nil {
			t.Errorf("parseNotify(%q): %v", clipNotify(c.in), err)
			continue
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("parseNotify(%q) = %+v, want %+v", clipNotify(c.in), got, c.want)
		}
	}
}

// What systemd would ignore or refuse, and what we refuse on top, is an
// error naming the line and the reason, wrapping errBadNotify.
func TestParseNotifyRejects(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"READY=2", `line 1: READY="2": want 1`},
		{"READY=0", `READY="0": want 1`},
		{"READY=", `READY="": want 1`},
		{"STATUS=ok\nREADY=1\nREADY=2", `line 3: READY="2": want 1`},
		{"RELOADING=yes", "want 1"},
		{"STOPPING=true", "want 1"},
		{"FDSTORE=0", "want 1"},
		{"BARRIER=2", "want 1"},
		{"ERRNO=x", `ERRNO="x": want 0 to 4095 or an errno name`},
		{"ERRNO=4096", "want 0 to 4095"},
		{"ERRNO=-1", "want 0 to 4095"},
		{"ERRNO=enoent", "want 0 to 4095"},
		{"MAINPID=0", `MAINPID="0": want a pid, 1 to 2147483647`},
		{"MAINPID=-5", "want a pid"},
		{"MAINPID=2147483648", "want a pid"},
		{"MAINPID= 5", "want a pid"},
		{"MAINPID=+5", "want a pid"},
		{"MAINPID=0x10", "want a pid"},
		{"WATCHDOG=2", "want 1 or trigger"},
		{"WATCHDOG_USEC=-1", "want a decimal number of microseconds"},
		{"EXTEND_TIMEOUT_USEC=1s", "want a decimal number"},
		{"MONOTONIC_USEC=+5", "want a decimal number"},
		{"WATCHDOG_USEC=18446744073709551616", "want a decimal number"},
		{"FDSTORE=1\nFDNAME=a:b", "bad descriptor name"},
		{"FDSTORE=1\nFDNAME=" + strings.Repeat("n", 256), "want 1 to 255 bytes"},
		{"FDSTORE=1\nFDNAME=tab\there", "printable ASCII"},
		{"FDSTORE=1\nFDNAME=é", "printable ASCII"},
		{"FDSTORE=1\nFDPOLL=yes", `FDPOLL="yes": want 0 or 1`},
		{"FDSTOREREMOVE=1", "FDSTOREREMOVE=1 without FDNAME="},
		{"FDSTOREREMOVE=1\nFDNAME=", "FDSTOREREMOVE=1 without FDNAME="},
		{"FDSTORE=1\nFDSTOREREMOVE=1\nFDNAME=x", "FDSTORE=1 and FDSTOREREMOVE=1 together"},
		{"BARRIER=1\nREADY=1", "BARRIER=1 must be the only line"},
		{"X=1\nBARRIER=1", "BARRIER=1 must be the only line"},
		{"READY", `line 1: "READY": want KEY=VALUE`},
		{"READY=1\ngarbage", `line 2: "garbage": want KEY=VALUE`},
		{"=1", "want KEY=VALUE"},
		{"READY=1\x00\x00", "embedded NUL"},
		{"READ\x00Y=1", "embedded NUL"},
		{"STATUS=\xff", "not UTF-8"},
		{strings.Repeat("S", notifyMaxSize-1) + "=1", "4097 bytes, at most 4096"},
	} {
		got, err := parseNotify([]byte(c.in))
		if err == nil {
			t.Errorf("parseNotify(%q) = %+v, want an error", clipNotify(c.in), got)
			continue
		}
		if !errors.Is(err, errBadNotify) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("parseNotify(%q): %v, want errBadNotify saying %q", clipNotify(c.in), err, c.want)
		}
		if !reflect.DeepEqual(got, notifyMsg{}) {
			t.Errorf("parseNotify(%q) returned %+v with its error", clipNotify(c.in), got)
		}
	}
}

// An error about a bad FDNAME can be told apart.
func TestParseNotifyBadFDName(t *testing.T) {
	_, err := parseNotify([]byte("FDSTORE=1\nFDNAME=a:b"))
	if !errors.Is(err, errBadFDName) {
		t.Fatalf("got %v, want errBadFDName", err)
	}
}

// Whatever the bytes, parseNotify returns a message that keeps the rules
// (or an errBadNotify and nothing), and the message written back out as
// text parses to itself.
func FuzzParseNotify(f *testing.F) {
	for _, s := range []string{
		"READY=1", "READY=1\nSTATUS=Serving\nMAINPID=42\n", "STOPPING=1\nERRNO=ENOENT",
		"RELOADING=1\nMONOTONIC_USEC=123", "WATCHDOG=trigger\nWATCHDOG_USEC=0",
		"EXTEND_TIMEOUT_USEC=5000000", "FDSTORE=1\nFDNAME=db\nFDPOLL=0",
		"FDSTOREREMOVE=1\nFDNAME=db", "BARRIER=1", "X=1\nY=\n", "READY=1\x00",
		"READY=2", "FDNAME=a:b", "BARRIER=1\nREADY=1", "=", "\xff", "MAINPID=0",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := parseNotify(b)
		if err != nil {
			if !errors.Is(err, errBadNotify) || !reflect.DeepEqual(m, notifyMsg{}) {
				t.Fatalf("parseNotify(%q) = %+v, %v: want errBadNotify and nothing", b, m, err)
			}
			return
		}
		checkNotifyRules(t, b, m)
		again, err := parseNotify([]byte(formatNotify(m)))
		if err != nil || !reflect.DeepEqual(again, m) {
			t.Fatalf("parseNotify(%q) = %+v; written back %q parses to %+v, %v", b, m, formatNotify(m), again, err)
		}
	})
}

// checkNotifyRules fails t if m, parsed from b, breaks a rule parseNotify
// promises.
func checkNotifyRules(t *testing.T, b []byte, m notifyMsg) {
	t.Helper()
	switch {
	case len(b) > notifyMaxSize:
		t.Fatalf("accepted %d bytes", len(b))
	case m.PID != 0 || m.UID != 0 || m.GID != 0 || m.FDs != nil:
		t.Fatalf("credentials or descriptors from text: %+v", m)
	case m.Errno != nil && (*m.Errno < 0 || *m.Errno > errnoMax):
		t.Fatalf("ERRNO %d", *m.Errno)
	case m.MainPID < 0:
		t.Fatalf("MAINPID %d", m.MainPID)
	case m.FDName != "" && checkFDName(m.FDName) != nil:
		t.Fatalf("FDNAME %q", m.FDName)
	case m.FDStore && m.FDStoreRemove, m.FDStoreRemove && m.FDName == "":
		t.Fatalf("fd store request %+v", m)
	case m.Barrier && !reflect.DeepEqual(m, notifyMsg{Barrier: true}):
		t.Fatalf("barrier with more: %+v", m)
	}
	for _, k := range m.Unknown {
		if k == "" || strings.ContainsAny(k, "=\n\x00") || notifyKeys[k] != nil {
			t.Fatalf("unknown key %q", k)
		}
	}
}

// formatNotify writes m as the text a sender would send for it.
func formatNotify(m notifyMsg) string {
	var lines []string
	add := func(set bool, line string) {
		if set {
			lines = append(lines, line)
		}
	}
	u := func(p *uint64) string { return strconv.FormatUint(deref(p), 10) }
	add(m.Ready, "READY=1")
	add(m.Reloading, "RELOADING=1")
	add(m.Stopping, "STOPPING=1")
	add(m.Status != nil, "STATUS="+deref(m.Status))
	add(m.Errno != nil, "ERRNO="+strconv.Itoa(deref(m.Errno)))
	add(m.MainPID != 0, "MAINPID="+strconv.Itoa(m.MainPID))
	add(m.Watchdog, "WATCHDOG=1")
	add(m.WatchdogTrigger, "WATCHDOG=trigger")
	add(m.WatchdogUSec != nil, "WATCHDOG_USEC="+u(m.WatchdogUSec))
	add(m.ExtendTimeoutUSec != nil, "EXTEND_TIMEOUT_USEC="+u(m.ExtendTimeoutUSec))
	add(m.MonotonicUSec != 0, "MONOTONIC_USEC="+strconv.FormatUint(m.MonotonicUSec, 10))
	add(m.FDStore, "FDSTORE=1")
	add(m.FDStoreRemove, "FDSTOREREMOVE=1")
	add(m.FDName != "", "FDNAME="+m.FDName)
	add(m.FDPoll != nil, "FDPOLL="+map[bool]string{false: "0", true: "1"}[deref(m.FDPoll)])
	add(m.Barrier, "BARRIER=1")
	for _, k := range m.Unknown {
		lines = append(lines, k+"=")
	}
	return strings.Join(lines, "\n")
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

func BenchmarkParseNotify(b *testing.B) {
	msg := []byte("READY=1\nSTATUS=Serving 3 clients\nMAINPID=4242\nFDSTORE=1\nFDNAME=listener\nFDPOLL=0\n")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := parseNotify(msg); err != nil {
			b.Fatal(err)
		}
	}
}
