//go:build linux

package launcher

import (
	"encoding/json"
	"errors"
	"slices"
	"syscall"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestMergeEnv(t *testing.T) {
	got := mergeEnv([]string{"A=1", "B=2", "A=3", "C="}, []string{"B=x", "D=4", "C=5"})
	want := []string{"A=3", "B=x", "C=5", "D=4"}
	if !slices.Equal(got, want) {
		t.Errorf("mergeEnv: %q, want %q", got, want)
	}
	if v, ok := lookupEnv(want, "C"); !ok || v != "5" {
		t.Errorf("lookupEnv C: %q, %v", v, ok)
	}
	if _, ok := lookupEnv(want, "E"); ok {
		t.Errorf("lookupEnv found E")
	}
}

func TestSigSet(t *testing.T) {
	s := SigSetOf(syscall.SIGHUP, syscall.SIGUSR1, 64, 0, 65)
	if s != 1|1<<9|1<<63 {
		t.Errorf("SigSetOf: %#x", uint64(s))
	}
	if !s.Has(syscall.SIGUSR1) || s.Has(syscall.SIGUSR2) || s.Has(0) || s.Has(65) {
		t.Errorf("Has is wrong for %#x", uint64(s))
	}
}

// TestReportRoundTrip: a failure in the trampoline reaches the parent as the
// same step, path and errno, or message.
func TestReportRoundTrip(t *testing.T) {
	for _, in := range []*StartError{
		{Op: "chdir", Path: "/x", Err: syscall.ENOENT},
		{Op: "read config", Err: errors.New("decode config: unexpected EOF")},
	} {
		out, err := decodeOutcome(encodeReport(reportFor(in)))
		if err != nil || out.execReached || out.failure == nil || out.failure.Error() != in.Error() {
			t.Errorf("%v came back as %+v, %v", in, out, err)
		}
	}
	execFailed := &StartError{Op: "exec", Path: "x", Err: syscall.EACCES}
	out, err := decodeOutcome(append(encodeReport(report{Exec: true}), encodeReport(reportFor(execFailed))...))
	if err != nil || !out.execReached || !errors.Is(out.failure, syscall.EACCES) {
		t.Errorf("marker then exec failure came back as %+v, %v", out, err)
	}
	out, err = decodeOutcome(encodeReport(report{Exec: true}))
	if err != nil || !out.execReached || out.failure != nil {
		t.Errorf("exec marker: %+v, %v", out, err)
	}
	if _, err := decodeOutcome([]byte(`{"op":"chdir","errno":2}` + "\n" + `{"exec":true}`)); err == nil {
		t.Errorf("a report after a failure was accepted")
	}
}

func validConfig() *config {
	adj, umask := 5, uint32(0o22)
	return &config{
		Protocol: protocolVersion,
		Args:     []string{"/bin/true", "x"}, Env: []string{"A=1"}, Cwd: "/",
		UID: 1, GID: 2, Groups: []uint32{3}, Umask: &umask, OOMScoreAdj: &adj,
		Rlimits:    []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 1, Hard: 2}},
		NoNewPrivs: true, SigMask: SigSetOf(syscall.SIGHUP), ListenPID: true, Keep: []int{0, 1, 5},
	}
}

func TestExecMarker(t *testing.T) {
	if want := encodeReport(report{Exec: true}); string(execMarker) != string(want) {
		t.Errorf("execMarker = %q, want %q", execMarker, want)
	}
}

func TestDecodeConfig(t *testing.T) {
	b, _ := json.Marshal(validConfig())
	c, err := decodeConfig(b)
	if err != nil {
		t.Fatalf("decodeConfig of a valid config: %v", err)
	}
	if again, _ := json.Marshal(c); string(again) != string(b) {
		t.Errorf("round trip changed the config:\n%s\n%s", b, again)
	}
	for name, bad := range map[string]string{
		"empty":         ``,
		"unknown field": `{"protocol":1,"args":["/x"],"cwd":"/","keep":[],"shell":true}`,
		"trailing":      `{"protocol":1,"args":["/x"],"cwd":"/","keep":[]} {}`,
		"no args":       `{"protocol":1,"cwd":"/","keep":[]}`,
		"keep order":    `{"protocol":1,"args":["/x"],"cwd":"/","keep":[3,1]}`,
		"keep negative": `{"protocol":1,"args":["/x"],"cwd":"/","keep":[-1]}`,
		"no protocol":   `{"args":["/x"],"cwd":"/","keep":[]}`,
		"old protocol":  `{"protocol":0,"args":["/x"],"cwd":"/","keep":[]}`,
		"bad rlimit":    `{"protocol":1,"args":["/x"],"cwd":"/","keep":[],"rlimits":[{"type":"RLIMIT_X","soft":0,"hard":0}]}`,
	} {
		if _, err := decodeConfig([]byte(bad)); err == nil {
			t.Errorf("%s: decodeConfig accepted %s", name, bad)
		}
	}
}

// FuzzDecodeConfig: any input is either refused or yields a config that
// passes validation and survives a round trip.
func FuzzDecodeConfig(f *testing.F) {
	b, _ := json.Marshal(validConfig())
	f.Add(b)
	f.Add([]byte(`{"protocol":1,"args":["/x"],"cwd":"/","keep":[]}`))
	f.Add([]byte(`{"protocol":1,"args":["a\u0000"],"cwd":"/","keep":[1,1]}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := decodeConfig(b)
		if err != nil {
			return
		}
		if err := c.validate(); err != nil {
			t.Fatalf("decoded config fails validation: %v", err)
		}
		again, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := decodeConfig(again); err != nil {
			t.Fatalf("re-encoded config refused: %v", err)
		}
	})
}

// FuzzDecodeOutcome: any input is either refused or yields an outcome with
// a complete failure, or none.
func FuzzDecodeOutcome(f *testing.F) {
	f.Add([]byte(`{"exec":true}` + "\n"))
	f.Add([]byte(`{"op":"chdir","path":"/x","errno":2}` + "\n"))
	f.Add([]byte(`{"exec":true}` + "\n" + `{"op":"exec","path":"x","errno":13}` + "\n"))
	f.Add([]byte(`{"op":"read config","msg":"bad"}`))
	f.Add([]byte(`{"exec":true,"op":"x"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		out, err := decodeOutcome(b)
		if err != nil {
			if out.execReached || out.failure != nil {
				t.Fatalf("refused input left an outcome: %+v", out)
			}
			return
		}
		if f := out.failure; f != nil && (f.Op == "" || f.Err == nil || f.Err.Error() == "") {
			t.Fatalf("incomplete failure %+v", f)
		}
	})
}
