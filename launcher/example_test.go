//go:build linux

package launcher_test

import (
	"fmt"
	"io"
	"os"

	"github.com/migrate-run/migrate/launcher"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Start a shell with a pipe as its standard output, read what it wrote, and
// reap it.
func ExampleStart() {
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		fmt.Println(err)
		return
	}
	r := os.NewFile(uintptr(p[0]), "stdout-r")
	defer r.Close()

	user, err := launcher.CurrentUser() // start it as ourselves
	if err != nil {
		fmt.Println(err)
		return
	}
	proc, err := launcher.Start(launcher.Spec{
		Process: &specs.Process{
			Args: []string{"sh", "-c", "echo hi"},
			Env:  []string{"PATH=/usr/bin:/bin"},
			Cwd:  "/",
			User: user,
		},
		Files: []launcher.FD{{Target: 1, FD: p[1]}}, // our write end becomes its stdout
	})
	unix.Close(p[1]) // the child has its own copy now
	if err != nil {
		fmt.Println(err)
		return
	}
	out, _ := io.ReadAll(r)
	state, _ := proc.Wait()
	fmt.Printf("%s%v\n", out, state)
	// Output:
	// hi
	// exit status 0
}
