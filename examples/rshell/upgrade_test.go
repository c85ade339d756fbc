//go:build linux

package rshell_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestUpgradeALiveShell replaces rshell-server's binary under a live
// interactive shell (migratectl upgrade): the session is suspended, resumed
// by a fresh process of a rebuilt server (version 2, same state format),
// and the shell's variable, working directory, job and window size are
// intact; what was typed around the upgrade runs once.
func TestUpgradeALiveShell(t *testing.T) {
	needBash(t)
	s := startService(t, "--shell", "/bin/bash")
	v2 := filepath.Join(t.TempDir(), "rshell-server-v2")
	build := exec.Command("go", "build", "-o", v2, "-ldflags", "-X main.version=2", "./examples/rshell/cmd/rshell-server")
	mod, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatal(err)
	}
	build.Dir = filepath.Dir(strings.TrimSpace(string(mod)))
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build v2: %v\n%s", err, out)
	}
	tm := startTerminal(t, s.bin, s.addr, 30, 90)
	work := t.TempDir()
	tm.typeLine("cd " + work)
	tm.typeLine("V=before-upgrade")
	tm.typeLine("sleep 1000 &")
	tm.typeLine("echo SHELL-$$-JOB-$!.")
	m := tm.expect(`SHELL-(\d+)-JOB-(\d+)\.`)
	shell, _ := strconv.Atoi(m[1])
	job, _ := strconv.Atoi(m[2])
	killAtCleanup(t, shell)
	killAtCleanup(t, job)
	old := s.session()

	// The state format is the same: the operator says the new build's
	// sessions match version 1's vector (an accept service runs nothing of
	// the new program before the resume, so nothing registers version 2).
	out, err := s.ctl("upgrade", "rshell", "--exec", v2, "--version", "1")
	if err != nil {
		t.Fatalf("upgrade: %v\n%s\n%s", err, out, s.log())
	}
	if !strings.Contains(out, "1 sessions upgraded, 0 resumed under the old program, 0 not upgraded") {
		t.Fatalf("upgrade said:\n%s", out)
	}
	tm.typeLine("echo TYPED-$((3+4))")
	tm.expect("TYPED-7")
	sess := s.session()
	if sess.PID == old.PID {
		t.Fatalf("still served by the old server %d", old.PID)
	}
	if exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", sess.PID)); exe != v2 {
		t.Errorf("the session is served by %s, want %s", exe, v2)
	}
	tm.typeLine("stty size")
	tm.expect("30 90")
	tm.typeLine(`echo "V=[$V] CWD=[$PWD] SHELL=[$$]"`)
	tm.expect(regexp.QuoteMeta(fmt.Sprintf("V=[before-upgrade] CWD=[%s] SHELL=[%d]", work, shell)))
	tm.typeLine("jobs -l")
	tm.expect(fmt.Sprintf(`%d Running +sleep 1000`, job))
	tm.typeLine("kill %1; exit 4")
	if code := tm.wait(); code != 4 {
		t.Errorf("rshell exited %d, want the shell's 4; the terminal shows %q", code, tm.rest())
	}
	if n := strings.Count(tm.transcript(), "TYPED-7"); n != 1 {
		t.Errorf("what was typed after the upgrade ran %d times, want once", n)
	}
}
