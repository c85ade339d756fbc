//go:build linux

package migrate

import (
	"context"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/migrate-run/migrate/proto"
)

func TestExecGivenFieldsAreSentAsGiven(t *testing.T) {
	checkNoLeaks(t)
	c, f := newFake(t)
	srv, _ := tcpPair(t)
	s := registered(t, c, f, srv, 2)
	mask := uint64(1<<(10-1) | 1<<(12-1)) // SIGUSR1, SIGUSR2
	exec := &Exec{Args: []string{"/usr/bin/app", "--resume"}, Env: []string{"A=1"}, Dir: "/srv",
		Creds: &Creds{UID: 1000, GID: 100, Groups: []uint32{10, 20}}, SigMask: &mask, NoNewPrivileges: true,
		Rlimits: []Rlimit{{Type: "RLIMIT_NOFILE", Soft: 1024, Hard: 4096}}}
	res := async(func() (uint64, error) {
		return s.ReturnCont(context.Background(), Continuation{Kind: Complete, Exec: exec})
	})
	rc, id, _ := expect[*proto.ReturnCont](f)
	want := &proto.Exec{Args: exec.Args, Env: exec.Env, Cwd: "/srv", UID: 1000, GID: 100, Groups: []uint32{10, 20},
		SigMask: mask, NoNewPrivileges: true, Rlimits: exec.Rlimits}
	if !reflect.DeepEqual(rc.Exec, want) {
		t.Errorf("exec %+v, want %+v", rc.Exec, want)
	}
	f.ack(id, 3)
	if _, err := wait(t, res); err != nil {
		t.Fatal(err)
	}
}

func TestOwnEnvDropsTheStartVariables(t *testing.T) {
	for _, kv := range []string{"LISTEN_FDS=2", "LISTEN_PID=1", "LISTEN_FDNAMES=a:b", "MIGRATE_CONT=5", "MIGRATE_PID=4", "MIGRATE_CONT_ID=3"} {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	t.Setenv("MIGRATE_APP", "echo")
	t.Setenv("LISTEN_FDS_EXTRA", "kept") // only whole names are dropped
	env := ownEnv()
	for _, kv := range env {
		for _, p := range startVars {
			if strings.HasPrefix(kv, p) {
				t.Errorf("default env carries %q", kv)
			}
		}
	}
	if !slices.Contains(env, "MIGRATE_APP=echo") || !slices.Contains(env, "LISTEN_FDS_EXTRA=kept") {
		t.Errorf("default env lost a variable: %q", env)
	}
}

func TestExpirySeconds(t *testing.T) {
	for d, want := range map[int64]uint32{0: 0, 1: 1, 1e9: 1, 1e9 + 1: 2, 1 << 62: 1<<32 - 1} {
		if got := expirySec(durationOf(d)); got != want {
			t.Errorf("expirySec(%d ns) = %d, want %d", d, got, want)
		}
	}
}

func durationOf(ns int64) time.Duration { return time.Duration(ns) }
