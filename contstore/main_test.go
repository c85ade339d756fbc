package contstore

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"go.uber.org/goleak"
)

// The test binary doubles as the helper child processes: with childEnv set,
// TestMain runs the named child instead of the tests.
const (
	childEnv      = "CONTSTORE_TEST_CHILD"
	childPathEnv  = "CONTSTORE_TEST_PATH"
	childWriteEnv = "CONTSTORE_TEST_WRITERS"
)

func TestMain(m *testing.M) {
	switch os.Getenv(childEnv) {
	case "":
	case "hold-lock":
		os.Exit(childHoldLock(os.Getenv(childPathEnv)))
	case "crash-writer":
		writers, _ := strconv.Atoi(os.Getenv(childWriteEnv))
		os.Exit(childCrashWriter(os.Getenv(childPathEnv), writers))
	default:
		fmt.Fprintf(os.Stderr, "unknown %s=%q\n", childEnv, os.Getenv(childEnv))
		os.Exit(2)
	}
	// The runtime opens its poller's descriptors on first use; open them now
	// so that tests counting /proc/self/fd see only what the code opens.
	if r, w, err := os.Pipe(); err == nil {
		r.Close()
		w.Close()
	}
	goleak.VerifyTestMain(m)
}

// childHoldLock opens the store, says "locked" on stdout and keeps the store
// open until stdin reaches EOF (the parent closes it or dies).
func childHoldLock(path string) int {
	s, err := Open(path, Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println("locked")
	_, _ = io.Copy(io.Discard, os.Stdin)
	if err := s.Close(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// childCrashWriter puts crashRecord(seq) from several goroutines until it is
// killed, printing "seq id" for each Put that returned nil, with the ID the
// store assigned.
func childCrashWriter(path string, writers int) int {
	s, err := Open(path, Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	var (
		seq    atomic.Int64
		stdout sync.Mutex
		wg     sync.WaitGroup
	)
	for range writers {
		wg.Go(func() {
			for {
				n := int(seq.Add(1))
				c := crashRecord(n)
				if err := s.Put(&c); err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(1)
				}
				stdout.Lock()
				fmt.Printf("%d %s\n", n, c.ID) // one write(2), whole or not at all
				stdout.Unlock()
			}
		})
	}
	wg.Wait()
	return 0
}

// child is a helper child process: the test binary run with childEnv.
type child struct {
	cmd    *exec.Cmd
	stdout io.ReadCloser
	stdin  io.WriteCloser // closing it tells a hold-lock child to let go
}

// startChild runs the named child with the given environment. The cleanup
// kills it if the test has not waited for it.
func startChild(t *testing.T, name string, env ...string) *child {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	c := &child{cmd: exec.Command(exe)}
	c.cmd.Env = append(os.Environ(), append([]string{childEnv + "=" + name}, env...)...)
	c.cmd.Stderr = os.Stderr
	if c.stdout, err = c.cmd.StdoutPipe(); err != nil {
		t.Fatal(err)
	}
	if c.stdin, err = c.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if c.cmd.ProcessState == nil {
			_ = c.cmd.Process.Kill()
			_ = c.cmd.Wait()
		}
	})
	return c
}
