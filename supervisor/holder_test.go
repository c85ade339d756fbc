package supervisor

import (
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Held continuations of one app with equal exec descriptions share one;
// a different description, or another app's, is kept as it is.
func TestExecTableShares(t *testing.T) {
	mk := func(env ...string) *specs.Process {
		return &specs.Process{Args: []string{"/bin/server", "serve"}, Env: env, Cwd: "/srv",
			User: specs.User{UID: 1, GID: 2, AdditionalGids: []uint32{3}}}
	}
	var tab execTable
	if got := tab.share("a", nil); got != nil {
		t.Fatalf("share(nil) = %+v, want nil", got)
	}
	first := mk("A=1")
	if got := tab.share("a", first); got != first {
		t.Fatal("the first description is not kept as it is")
	}
	if got := tab.share("a", mk("A=1")); got != first {
		t.Error("an equal description of the same app is not shared")
	}
	other := mk("A=2")
	if got := tab.share("a", other); got != other {
		t.Error("a different description was replaced")
	}
	if got := tab.share("a", mk("A=2")); got != other {
		t.Error("the app's latest description is not the one shared")
	}
	if b := mk("A=2"); tab.share("b", b) != b {
		t.Error("another app's description was replaced by this app's")
	}
	if first.Env[0] != "A=1" || other.Env[0] != "A=2" {
		t.Error("sharing changed a description")
	}
}
