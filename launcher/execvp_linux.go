//go:build linux

package launcher

import (
	"path/filepath"
	"strings"
	"syscall"
)

// defaultPath is searched when the environment has no PATH, as glibc's
// execvp(3) does.
const defaultPath = "/bin:/usr/bin"

// execvp replaces the process with program file, like execvp(3): a name with
// a '/' is executed as it is (relative to the working directory), any other
// name is tried in each directory of the PATH in env, an empty entry meaning
// the working directory. A candidate that is missing is skipped; one that is
// not executable is skipped but remembered, so the search fails with EACCES
// rather than ENOENT; any other error ends the search. Unlike execvp(3) it
// does not run a file without a valid header through /bin/sh: that is ENOEXEC.
// It returns only on failure.
func execvp(file string, argv, env []string) error {
	if strings.Contains(file, "/") {
		return syscall.Exec(file, argv, env)
	}
	path, ok := lookupEnv(env, "PATH")
	if !ok {
		path = defaultPath
	}
	denied := false
	for _, dir := range filepath.SplitList(path) {
		if dir == "" {
			dir = "."
		}
		err := syscall.Exec(dir+"/"+file, argv, env)
		switch err {
		case syscall.EACCES:
			denied = true
		case syscall.ENOENT, syscall.ENOTDIR, syscall.ESTALE, syscall.ENODEV, syscall.ETIMEDOUT:
		default:
			return err
		}
	}
	if denied {
		return syscall.EACCES
	}
	return syscall.ENOENT
}
