//go:build linux

package launcher

import (
	"errors"
	"os"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// exitFailed is the trampoline's exit status when it could not exec the app,
// like a shell's "command not found".
const exitFailed = 127

// init turns any binary that links launcher into the trampoline when it is
// started as one: argv is exactly [trampolineArg0] and trampolineEnv names
// the config socket. It never returns then. Otherwise it does nothing.
func init() {
	if len(os.Args) != 1 || os.Args[0] != trampolineArg0 {
		return
	}
	v, ok := syscall.Getenv(trampolineEnv)
	if !ok {
		return
	}
	sock, err := strconv.Atoi(v)
	if err != nil || sock < 0 {
		return
	}
	// The signal mask and no_new_privs are per thread: they must be set on
	// the thread that calls execve. runtime.main holds init on the main
	// thread, and the trampoline never returns from init. (LockOSThread
	// would start one more thread, the runtime's template thread.)
	os.Exit(trampoline(sock))
}

// trampoline turns this process into the app described by the config it
// reads from sock: it returns only on failure, after reporting the failure
// on sock.
func trampoline(sock int) int {
	if _, err := unix.FcntlInt(uintptr(sock), unix.F_SETFD, unix.FD_CLOEXEC); err != nil {
		return exitFailed // not our socket after all: nobody to report to
	}
	cfg, err := readConfig(sock)
	if err == nil {
		err = cfg.apply()
	}
	if err != nil {
		_ = writeAll(sock, encodeReport(reportFor(err)))
		return exitFailed
	}
	env := cfg.Env
	if cfg.ListenPID {
		env = setEnv(env, "LISTEN_PID", strconv.Itoa(os.Getpid()))
	}
	for _, name := range cfg.PIDEnv {
		env = setEnv(env, name, strconv.Itoa(os.Getpid()))
	}
	resetSignalDispositions()
	if err := setSignalMask(cfg.SigMask); err != nil {
		_ = writeAll(sock, encodeReport(reportFor(&StartError{Op: "set signal mask", Err: err})))
		return exitFailed
	}
	_ = writeAll(sock, execMarker)
	err = execvp(cfg.Args[0], cfg.Args, env)
	_ = writeAll(sock, encodeReport(reportFor(&StartError{Op: "exec", Path: cfg.Args[0], Err: err})))
	return exitFailed
}

// readConfig reads the config until the parent shuts its side down.
func readConfig(sock int) (*config, error) {
	b, err := readAllRaw(sock, maxConfigSize)
	if err == nil {
		var cfg *config
		if cfg, err = decodeConfig(b); err == nil {
			return cfg, nil
		}
		if errors.Is(err, errProtocol) {
			return nil, &StartError{Op: opProtocol, Err: err}
		}
	}
	return nil, &StartError{Op: "read config", Err: err}
}
