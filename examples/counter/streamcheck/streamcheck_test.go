package streamcheck

import (
	"bytes"
	"net"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// serve listens on loopback, writes stream to the first client, then
// holds the connection open until the test ends (or closes it when
// hangup is set). It returns the address.
func serve(t *testing.T, stream string, hangup bool) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	t.Cleanup(func() { close(done); ln.Close(); <-finished })
	go func() {
		defer close(finished)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		c.Write([]byte(stream))
		if !hangup {
			<-done
		}
	}()
	return ln.Addr().String()
}

func TestRun(t *testing.T) {
	cases := []struct {
		name     string
		format   Format
		stream   string
		hangup   bool
		args     []string
		code     int
		out, err string
	}{
		{"ok", Counter, "1\n2\n3\n4\n", false, []string{"--count", "3"}, ExitOK, "ok: received 3 numbers, last 3, no gap or duplicate\n", ""},
		{"gap", Counter, "1\n2\n4\n", false, []string{"--count", "5"}, ExitViolation, "", "gap: expected 3 got 4\n"},
		{"duplicate", Counter, "1\n2\n2\n", false, []string{"--count", "5"}, ExitViolation, "", "duplicate: expected 3 got 2\n"},
		{"not from 1", Counter, "2\n3\n", false, []string{"--count", "2"}, ExitViolation, "", "gap: expected 1 got 2\n"},
		{"garbled", Counter, "1\n2x\n", false, []string{"--count", "5"}, ExitViolation, "", "garbled line \"2x\""},
		{"half line", Counter, "1\n2\n3", true, []string{"--count", "5"}, ExitLost, "", "connection lost after 2 numbers (last 2): connection closed mid-line"},
		{"lost", Counter, "1\n2\n", true, []string{"--count", "5"}, ExitLost, "", "connection lost after 2 numbers (last 2): EOF"},
		{"duration", Counter, "1\n2\n", false, []string{"--duration", "100ms"}, ExitOK, "ok: received 2 numbers, last 2, no gap or duplicate\n", ""},
		{"broadcast joins anywhere", Broadcast, "41 beat\n42 beat\n", false, []string{"--count", "2"}, ExitOK, "ok: received 2 numbers, last 42, no gap or duplicate\n", ""},
		{"broadcast gap", Broadcast, "41 beat\n43 beat\n", false, []string{"--count", "2"}, ExitViolation, "", "gap: expected 42 got 43\n"},
		{"broadcast garbled", Broadcast, "41beat\n", false, []string{"--count", "2"}, ExitViolation, "", "garbled line \"41beat\""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			addr := serve(t, tc.stream, tc.hangup)
			var out, errOut bytes.Buffer
			start := time.Now()
			code := Run("client", tc.format, append([]string{"--addr", addr}, tc.args...), &out, &errOut)
			if code != tc.code {
				t.Errorf("exit %d, want %d (stderr %q)", code, tc.code, errOut.String())
			}
			if out.String() != tc.out {
				t.Errorf("stdout %q, want %q", out.String(), tc.out)
			}
			if !strings.Contains(errOut.String(), tc.err) {
				t.Errorf("stderr %q, want it to contain %q", errOut.String(), tc.err)
			}
			if tc.name == "duration" && time.Since(start) < 100*time.Millisecond {
				t.Error("ended before the duration")
			}
		})
	}
}

func TestRunUsageAndDialErrors(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := Run("client", Counter, nil, &out, &errOut); code != ExitLost || !strings.Contains(errOut.String(), "usage") {
		t.Errorf("no --addr: exit %d, stderr %q", code, errOut.String())
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	errOut.Reset()
	if code := Run("client", Counter, []string{"--addr", addr}, &out, &errOut); code != ExitLost || !strings.Contains(errOut.String(), "connect") {
		t.Errorf("nobody listening: exit %d, stderr %q", code, errOut.String())
	}
}
