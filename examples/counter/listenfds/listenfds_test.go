//go:build linux

package listenfds

import (
	"errors"
	"os"
	"strconv"
	"testing"
)

func TestListen(t *testing.T) {
	me := strconv.Itoa(os.Getpid())
	cases := []struct {
		name, fds, pid, addr string
		wantErr              error // nil: a listener
		wantAny              bool  // some error, not ErrNone
	}{
		{"no socket, no address", "", "", "", ErrNone, false},
		{"meant for another process", "1", "1", "", ErrNone, false},
		{"garbage count", "x", me, "", nil, true},
		{"negative count", "-1", me, "", nil, true},
		{"address", "", "", "127.0.0.1:0", nil, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("LISTEN_FDS", tc.fds)
			t.Setenv("LISTEN_PID", tc.pid)
			t.Setenv("LISTEN_FDNAMES", "x")
			ln, err := Listen(tc.addr)
			switch {
			case tc.wantErr != nil && !errors.Is(err, tc.wantErr):
				t.Errorf("Listen = %v, want %v", err, tc.wantErr)
			case tc.wantAny && (err == nil || errors.Is(err, ErrNone)):
				t.Errorf("Listen = %v, want a bad LISTEN_FDS error", err)
			case tc.wantErr == nil && !tc.wantAny && err != nil:
				t.Errorf("Listen = %v", err)
			}
			if ln != nil {
				ln.Close()
			}
			for _, k := range []string{"LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES"} {
				if _, set := os.LookupEnv(k); set {
					t.Errorf("%s still set: children would take it", k)
				}
			}
		})
	}
}
