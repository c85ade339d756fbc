package line

import (
	"bytes"
	"net"
	"strings"
	"testing"

	"github.com/migrate-run/migrate/examples/counter/streamcheck"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestAppendAndParse(t *testing.T) {
	for _, c := range []struct {
		seq      uint64
		version  string
		text, as string
	}{
		{1, "1", "1 tick\n", "v1"},
		{4711, "2", "4711 tick v2\n", "v2"},
		{18446744073709551615, "10.1", "18446744073709551615 tick v10.1\n", "v10.1"},
	} {
		got := string(Append([]byte("x"), c.seq, c.version))
		if got != "x"+c.text {
			t.Errorf("Append(%d, %q) = %q, want %q", c.seq, c.version, got, "x"+c.text)
		}
		seq, v, err := Parse(strings.TrimSuffix(c.text, "\n"))
		if err != nil || seq != c.seq || v != c.as {
			t.Errorf("Parse(%q) = %d, %q, %v; want %d, %q", c.text, seq, v, err, c.seq, c.as)
		}
	}
}

func TestParseRefusesGarbage(t *testing.T) {
	for _, l := range []string{
		"", "12", "12 ", " tick", "0 tick", "012 tick", "+1 tick", "-1 tick", "1x tick",
		"18446744073709551616 tick", "1 tock", "1 tick v", "1 tick 2", "1 tick v2 v3", "1  tick", "1 tick\t",
	} {
		if seq, v, err := Parse(l); err == nil {
			t.Errorf("Parse(%q) = %d, %q; want an error", l, seq, v)
		}
	}
}

// TestFormatNamesTheVersions runs streamcheck's client with Format on a
// stream that v1 starts and v2 goes on with.
func TestFormatNamesTheVersions(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	served := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			served <- err
			return
		}
		defer c.Close()
		var b []byte
		for seq := uint64(41); seq < 44; seq++ {
			b = Append(b, seq, "1")
		}
		for seq := uint64(44); seq < 46; seq++ {
			b = Append(b, seq, "2")
		}
		_, err = c.Write(b)
		served <- err
	}()
	var out, errOut bytes.Buffer
	code := streamcheck.Run("client", Format, []string{"--addr", ln.Addr().String(), "--count", "5"}, &out, &errOut)
	if err := <-served; err != nil {
		t.Fatal(err)
	}
	if want := "ok: received 5 numbers, last 45, no gap or duplicate, served by v1 then v2\n"; code != 0 || out.String() != want {
		t.Errorf("exit %d, stdout %q, stderr %q; want 0 and %q", code, out.String(), errOut.String(), want)
	}
}
