//go:build linux

package launcher

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"syscall"
)

// report is one message from the trampoline to the parent, a JSON object per
// line. The trampoline sends at most an exec marker and then at most one
// failure:
//
//	parent                              trampoline
//	  │ ── config, then shutdown(WR) ──►  │ apply steps
//	  │ ◄── {"op":"chdir","errno":2} ──── │ a step failed: exit 127
//	  │ ◄── {"exec":true} ─────────────── │ about to execve
//	  │ ◄── EOF ───────────────────────── │ execve closed the socket
//	  │ ◄── {"op":"exec","errno":13} ──── │ or execve failed: exit 127
//
// EOF after the marker and no failure means the app is running. EOF without
// either means the trampoline died before it could say why.
type report struct {
	Exec  bool   `json:"exec,omitempty"`  // about to execve the app
	Op    string `json:"op,omitempty"`    // the failed step, StartError.Op
	Path  string `json:"path,omitempty"`  // StartError.Path
	Errno int    `json:"errno,omitempty"` // the kernel's errno; 0 if the cause is not one
	Msg   string `json:"msg,omitempty"`   // the cause when Errno is 0
}

// maxErrno is the largest errno Linux returns (MAX_ERRNO).
const maxErrno = 4095

// outcome is what the parent learnt from the trampoline's reports.
type outcome struct {
	execReached bool
	failure     *StartError
}

// reportFor turns a failed step into its report.
func reportFor(err error) report {
	var r report
	var se *StartError
	if errors.As(err, &se) {
		r.Op, r.Path, err = se.Op, se.Path, se.Err
	}
	var errno syscall.Errno
	if errors.As(err, &errno) && errno != 0 && errno <= maxErrno {
		r.Errno = int(errno)
	} else {
		r.Msg = err.Error()
	}
	return r
}

// execMarker is encodeReport(report{Exec: true}), written out: the
// trampoline spends no reflection on its last message.
var execMarker = []byte(`{"exec":true}` + "\n")

// encodeReport returns r as one line.
func encodeReport(r report) []byte {
	b, _ := json.Marshal(r) // cannot fail: strings, ints and bools only
	return append(b, '\n')
}

// decodeOutcome parses everything the trampoline wrote before EOF.
func decodeOutcome(b []byte) (outcome, error) {
	var out outcome
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	for {
		var r report
		err := dec.Decode(&r)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return outcome{}, fmt.Errorf("decode trampoline report: %w", err)
		}
		if err := out.add(r); err != nil {
			return outcome{}, fmt.Errorf("decode trampoline report: %w", err)
		}
	}
}

func (o *outcome) add(r report) error {
	if o.failure != nil {
		return errors.New("report after a failure")
	}
	if r.Exec {
		if o.execReached || r.Op != "" || r.Path != "" || r.Errno != 0 || r.Msg != "" {
			return errors.New("malformed exec marker")
		}
		o.execReached = true
		return nil
	}
	if r.Op == "" || (r.Errno == 0) == (r.Msg == "") || r.Errno < 0 || r.Errno > maxErrno {
		return errors.New("malformed failure")
	}
	if r.Op != "exec" && o.execReached {
		return fmt.Errorf("failure of step %q after the exec marker", r.Op)
	}
	o.failure = &StartError{Op: r.Op, Path: r.Path, Err: r.cause()}
	return nil
}

func (r report) cause() error {
	if r.Errno != 0 {
		return syscall.Errno(r.Errno)
	}
	return errors.New(r.Msg)
}
