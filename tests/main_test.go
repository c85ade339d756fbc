package tests

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

// bins is the directory the real binaries are built into, once per run;
// buildErrs holds the build output of those that failed, by binary name.
var (
	bins      string
	buildErrs = map[string]string{}
)

// mainPackages are the commands the end-to-end tests run.
var mainPackages = []string{"./cmd/...", "./examples/...", "./tests/internal/..."}

func TestMain(m *testing.M) { os.Exit(runTests(m)) }

// binEnv names a directory of binaries built beforehand to test instead of
// building them (a test binary run as another user, or installed binaries).
const binEnv = "MIGRATE_E2E_BIN"

func runTests(m *testing.M) int {
	if dir := os.Getenv(binEnv); dir != "" {
		bins = dir
		return run(m)
	}
	dir, err := os.MkdirTemp("", "migrate-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "tests:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	if err := buildAll(dir); err != nil {
		fmt.Fprintln(os.Stderr, "tests:", err)
		return 1
	}
	bins = dir
	return run(m)
}

// run runs the tests and then looks for goroutines and descriptors they
// left.
func run(m *testing.M) int {
	// The netpoller opens its descriptors on first use, and keeps them.
	if ln, err := net.Listen("tcp", "127.0.0.1:0"); err == nil {
		ln.Close()
	}
	before := openFDs()
	code := m.Run()
	if code != 0 {
		return code
	}
	if err := goleak.Find(); err != nil {
		fmt.Fprintln(os.Stderr, "tests: leaked goroutines:", err)
		return 1
	}
	if after := openFDs(); after != before {
		fmt.Fprintf(os.Stderr, "tests: %d descriptors open after the tests, %d before\n", after, before)
		return 1
	}
	return 0
}

func openFDs() int {
	ents, _ := os.ReadDir("/proc/self/fd")
	return len(ents)
}

// moduleRoot is the directory of the module's go.mod, as the go command
// sees it from here (not from os.Executable, which is a temporary binary).
func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("find the module root: go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", fmt.Errorf("find the module root: not inside a module")
	}
	return filepath.Dir(gomod), nil
}

// buildAll builds every main package into dir with one go build; when that
// fails (a command half-written by someone else) it builds them one by one,
// so that a test fails only for the binary it needs. The binaries are built
// without -race: the end-to-end tests time thousands of process starts, and
// the packages' own tests run under -race. They are built static
// (CGO_ENABLED=0): a Go binary that imports net is otherwise linked against
// libc, and the dynamic loader added 0.75 ms to every start of
// counter-server (2.44 → 1.68 ms median on an idle machine), the fresh
// process of every resume the benchmarks time.
func buildAll(dir string) error {
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	build := func(pkgs ...string) ([]byte, error) {
		cmd := exec.Command("go", append([]string{"build", "-o", dir + "/"}, pkgs...)...)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		return cmd.CombinedOutput()
	}
	if _, err := build(mainPackages...); err == nil {
		return nil
	}
	list := exec.Command("go", append([]string{"list", "-e", "-f", `{{if eq .Name "main"}}{{.ImportPath}}{{end}}`}, mainPackages...)...)
	list.Dir = root
	out, err := list.Output()
	if err != nil {
		return fmt.Errorf("list main packages: %w", err)
	}
	for _, pkg := range strings.Fields(string(out)) {
		if msg, err := build(pkg); err != nil {
			buildErrs[filepath.Base(pkg)] = fmt.Sprintf("%v\n%s", err, bytes.TrimSpace(msg))
		}
	}
	return nil
}

// binPath returns the path of a built binary, or fails the test with the
// reason it was not built.
func binPath(t testing.TB, name string) string {
	t.Helper()
	if msg, ok := buildErrs[name]; ok {
		t.Fatalf("%s did not build:\n%s", name, msg)
	}
	path := filepath.Join(bins, name)
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("%s was not built: %v", name, err)
	}
	return path
}

func itoa(n int) string { return fmt.Sprint(n) }
