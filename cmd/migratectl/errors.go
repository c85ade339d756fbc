package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"syscall"

	"github.com/migrate-run/migrate/proto"
	"github.com/migrate-run/migrate/supervisor"
)

// usageError is a mistake on the command line (exit status 2).
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, a ...any) error { return usageError{fmt.Errorf(format, a...)} }

func isUsage(err error) bool {
	var u usageError
	return errors.As(err, &u)
}

// printErr writes err to stderr as "migratectl: ...", the lines of a
// message of several (a reload's problems) indented under the first, and
// for a usage error the hint to --help.
func (c *cli) printErr(err error) {
	fmt.Fprintf(c.stderr, "migratectl: %s\n", strings.ReplaceAll(err.Error(), "\n", "\n  "))
	if isUsage(err) || !c.started {
		fmt.Fprintln(c.stderr, "Run 'migratectl --help' for usage.")
	}
}

// dialError says why the supervisor could not be reached.
func dialError(socket string, err error) error {
	switch {
	case errors.Is(err, syscall.ENOENT), errors.Is(err, syscall.ECONNREFUSED):
		return noSupervisorError{socket}
	case errors.Is(err, syscall.EACCES), errors.Is(err, syscall.EPERM):
		return fmt.Errorf("cannot reach the supervisor at %s: permission denied (it answers its own user and root)", socket)
	}
	return fmt.Errorf("cannot reach the supervisor at %s: %w", socket, err)
}

// opError turns the supervisor's answer to a request on object (such as
// "continuation 42") into a message for people.
func opError(op, object string, timeout string, err error) error {
	var pe *proto.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("%s: no answer from the supervisor within %s (--timeout)", op, timeout)
	case errors.As(err, &pe) && (pe.Code == proto.CodeUnknownContinuation || pe.Code == proto.CodeUnknownSession):
		return fmt.Errorf("%s not found", object)
	case errors.As(err, &pe) && object != "" && strings.HasSuffix(pe.Message, ": "+supervisor.ErrUnknownApp.Error()):
		return fmt.Errorf("%s not found", object) // the supervisor's unknown-app error
	case errors.As(err, &pe) && pe.Code == proto.CodeBadMessage && strings.Contains(pe.Message, "unknown admin op"):
		return fmt.Errorf("%s: the supervisor does not know this request (it is older than migratectl)", op)
	case errors.As(err, &pe) && pe.Code == proto.CodePermissionDenied:
		return fmt.Errorf("%s: the supervisor refused: %s (run migratectl as the supervisor's user or root, outside its apps)", op, pe.Message)
	case errors.As(err, &pe) && strings.HasPrefix(pe.Message, op+":"):
		return errors.New(pe.Message) // the supervisor named the operation already
	case errors.As(err, &pe) && pe.Message != "":
		return fmt.Errorf("%s: %s", op, pe.Message)
	case errors.As(err, &pe):
		return fmt.Errorf("%s: %s", op, pe.Code)
	case errors.Is(err, io.EOF), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return fmt.Errorf("%s: the supervisor closed the connection", op)
	}
	return fmt.Errorf("%s: %w", op, err)
}
