//go:build linux

package main

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/migrate-run/migrate/examples/rshell/wire"
)

// FuzzParseState: a stored state either is refused or survives a round
// trip through JSON unchanged, and what is accepted has sane numbers.
func FuzzParseState(f *testing.F) {
	f.Add([]byte(`{"format":"1","shell":5,"waiter":4,"pty":3,"pts":0,"status":7,"toClient":"AAE=","fromClient":"Ag=="}`))
	f.Add([]byte(`{"format":"1","shell":5,"waiter":4,"pty":3,"pts":0,"status":3}`))
	f.Add([]byte(`{`))
	f.Fuzz(func(t *testing.T, v []byte) {
		st, err := parseState(v)
		if err != nil {
			return
		}
		if st.Shell <= 0 || st.Waiter <= 0 || st.PTY < 0 || st.Status < 0 || st.PTY == st.Status {
			t.Fatalf("accepted %+v", st)
		}
		again, err := json.Marshal(st)
		if err != nil {
			t.Fatal(err)
		}
		st2, err := parseState(again)
		third, _ := json.Marshal(st2)
		if err != nil || !bytes.Equal(again, third) {
			t.Fatalf("%s came back as %s, %v", again, third, err)
		}
	})
}

// FuzzStatusLines: whatever the waiter's pipe holds, the server gets a pid
// or an error, and an exit the protocol can carry.
func FuzzStatusLines(f *testing.F) {
	f.Add("pid 42\nexit 3\n")
	f.Add("signal 9\n")
	f.Add("fail no such file\n")
	f.Fuzz(func(t *testing.T, s string) {
		if pid, err := parseStarted(s); err == nil && pid <= 0 {
			t.Fatalf("%q: pid %d", s, pid)
		}
		e := exitOf([]byte(s))
		var d wire.Decoder
		d.Feed(wire.AppendExit(nil, e))
		fr, ok, err := d.Next()
		if !ok || err != nil {
			t.Fatalf("%+v does not encode: %v", e, err)
		}
		if back, err := wire.ParseExit(fr.Payload); err != nil || back != e {
			t.Fatalf("%q: exit %+v came back as %+v, %v", s, e, back, err)
		}
	})
}
