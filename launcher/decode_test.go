//go:build linux

package launcher

import (
	"bytes"
	"errors"
	"reflect"
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
		Protocol: protocolVersion, Args: []string{"/bin/true", "x"}, Env: []string{"A=1"}, Cwd: "/",
		UID: 1, GID: 2, Groups: []uint32{3}, Umask: &umask, OOMScoreAdj: &adj,
		Rlimits:    []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 1, Hard: 2}},
		NoNewPrivs: true, SigMask: SigSetOf(syscall.SIGHUP), ListenPID: true, Keep: []int{0, 1, 5},
		Cgroups: []string{"/sys/fs/cgroup/pids/app"},
	}
}

func TestExecMarker(t *testing.T) {
	if want := encodeReport(report{Exec: true}); string(execMarker) != string(want) {
		t.Errorf("execMarker = %q, want %q", execMarker, want)
	}
}

func TestDecodeConfig(t *testing.T) {
	b := encodeConfig(validConfig())
	c, err := decodeConfig(b)
	if err != nil {
		t.Fatalf("decodeConfig of a valid config: %v", err)
	}
	if !reflect.DeepEqual(c, validConfig()) {
		t.Errorf("round trip changed the config:\n%+v\n%+v", validConfig(), c)
	}
	if again := encodeConfig(c); !bytes.Equal(again, b) {
		t.Errorf("round trip changed the encoding:\n%x\n%x", b, again)
	}
	minimal := func(edit func(*config)) []byte {
		c := &config{Protocol: protocolVersion, Args: []string{"/x"}, Cwd: "/", Keep: []int{}}
		edit(c)
		return encodeConfig(c)
	}
	// protocol, 1 arg of 2 bytes, no env, cwd of 1 byte, uid, gid, no
	// groups: the umask flag is byte 11.
	badFlag := minimal(func(*config) {})
	if badFlag[11] != 0 {
		t.Fatalf("the umask flag is not at byte 11 of %x", badFlag)
	}
	badFlag[11] = 2
	for name, bad := range map[string][]byte{
		"empty":           nil,
		"truncated":       b[:len(b)-1],
		"trailing":        append(slices.Clone(b), 0),
		"bad flag":        badFlag,
		"long string":     {byte(protocolVersion), 1, 100, '/'},
		"long list":       {byte(protocolVersion), 100, 1, '/'},
		"no args":         minimal(func(c *config) { c.Args = nil }),
		"relative cwd":    minimal(func(c *config) { c.Cwd = "x" }),
		"keep order":      minimal(func(c *config) { c.Keep = []int{3, 1} }),
		"keep negative":   minimal(func(c *config) { c.Keep = []int{-1} }),
		"bad rlimit":      minimal(func(c *config) { c.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_X"}} }),
		"old protocol":    minimal(func(c *config) { c.Protocol = protocolVersion - 1 }),
		"relative cgroup": minimal(func(c *config) { c.Cgroups = []string{"pids/app"} }),
		"json":            []byte(`{"protocol":1,"args":["/x"],"cwd":"/","keep":[]}`),
	} {
		if _, err := decodeConfig(bad); err == nil {
			t.Errorf("%s: decodeConfig accepted %x", name, bad)
		}
	}
	if _, err := decodeConfig(minimal(func(c *config) { c.Protocol++ })); !errors.Is(err, errProtocol) {
		t.Errorf("a config of another protocol: %v, want errProtocol", err)
	}
}

// FuzzDecodeConfig: any input is either refused or yields a config that
// passes validation and encodes back to the same bytes.
func FuzzDecodeConfig(f *testing.F) {
	f.Add(encodeConfig(validConfig()))
	f.Add(encodeConfig(&config{Protocol: protocolVersion, Args: []string{"/x"}, Cwd: "/"}))
	f.Add(encodeConfig(&config{Protocol: protocolVersion, Args: []string{"a\x00"}, Cwd: "/", Keep: []int{1, 1}}))
	f.Add([]byte(`{"protocol":2,"args":["/x"],"cwd":"/","keep":[]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := decodeConfig(b)
		if err != nil {
			return
		}
		if err := c.validate(); err != nil {
			t.Fatalf("decoded config fails validation: %v", err)
		}
		if again := encodeConfig(c); !bytes.Equal(again, b) {
			t.Fatalf("re-encoded config differs:\n%x\n%x", b, again)
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
