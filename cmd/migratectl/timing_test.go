package main

import (
	"testing"

	"github.com/migrate-run/migrate/proto"
)

// suspend and resume --timing add the supervisor's stages, in the order
// they begin (unknown ones left out), to the usual line; --json prints them as the supervisor
// sent them; a reply without stages (an older supervisor) says so.
func TestTiming(t *testing.T) {
	f := newFake(t, map[string]answer{
		proto.AdminSuspend: doc(`{"continuations": ["9"], "stages": {"commit": 310, "app_suspend": 1250, "app_return": 600}}`),
		proto.AdminResume: doc(`{"cont": "9", "pid": 4242, "stages": {"notified": 2000, "launch": 1500,
			"confirm_commit": 500, "app_start": 1200, "app_requests": 300, "later": 7}}`),
	})
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"suspend", "--timing", "3"},
			"session 3 suspended: continuation 9\nstages: app_suspend 1.250 ms, app_return 0.600 ms, commit 0.310 ms\n"},
		{[]string{"resume", "--timing", "9"},
			"continuation 9 resumed in pid 4242\nstages: launch 1.500 ms, notified 2.000 ms, app_start 1.200 ms, " +
				"app_requests 0.300 ms, confirm_commit 0.500 ms\n"},
		{[]string{"suspend", "3"}, "session 3 suspended: continuation 9\n"},
		{[]string{"--json", "suspend", "3"},
			`{"continuations": ["9"], "stages": {"commit": 310, "app_suspend": 1250, "app_return": 600}}` + "\n"},
	} {
		code, out, errOut := f.run(tc.args...)
		if code != exitOK || out != tc.want || errOut != "" {
			t.Errorf("migratectl %v: exit %d, printed %q (stderr %q), want %q", tc.args, code, out, errOut, tc.want)
		}
	}
	old := newFake(t, map[string]answer{proto.AdminResume: doc(`{"cont": "9", "pid": 0}`)})
	code, out, _ := old.run("resume", "--timing", "9")
	if want := "continuation 9 resumed in a running process\nstages: none measured\n"; code != exitOK || out != want {
		t.Errorf("resume --timing without stages: exit %d, printed %q, want %q", code, out, want)
	}
}
