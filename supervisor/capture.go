package supervisor

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// captureDrain is how long a stream's reader keeps reading after the app is
// done or torn down, for a process that escaped the app and still holds
// the pipe.
const captureDrain = time.Second

// forwardStall is how long a forward descriptor may stay full (a paused
// terminal, a pipe no one reads) before forwarding to it stops: the app's
// lines are still recorded.
const forwardStall = 5 * time.Second

// capture reads an app's standard output and error through pipes the
// supervisor owns: the app's held fds 1 and 2 are the pipes' write ends.
// Each line goes to the supervisor's log and to the app's ring, and its
// bytes to the descriptor the starter passed, if any.
type capture struct {
	ring    *logRing
	streams [2]*captured // stdout, stderr
	wg      sync.WaitGroup
	done    chan struct{} // closed once both readers ended
	// writesClosed is set once closeWrites ran: the app's stdio[1] and
	// [2] are no longer open.
	writesClosed atomic.Bool
}

// captured is one stream: r is the read end (non-blocking, in Go's
// poller), w the write end the app's processes get, forward the starter's
// descriptor (-1: none). The reader owns r and forward.
type captured struct {
	name      string
	r         *os.File
	w         int
	closeOnce sync.Once
	forward   int
}

var streamNames = [2]string{"stdout", "stderr"}

// startCapture makes the pipes of a's stdout and stderr, placing their write
// ends in a.stdio[1] and [2], and starts their readers. a.stdio[1] and [2]
// must hold the starter's descriptors (or /dev/null), which become the
// forward descriptors; /dev/null is closed instead.
func (s *Supervisor) startCapture(a *App) error {
	fwd := [2]int{a.stdio[1], a.stdio[2]}
	for i := range fwd {
		if a.spec.Stdio[1+i] < 0 {
			_ = unix.Close(fwd[i])
			fwd[i] = -1
		}
		a.stdio[1+i] = -1
	}
	if err := s.openCapture(a, newLogRing(s.cfg.LogLines, s.cfg.LogBytes), fwd); err != nil {
		closeFDs([]int{fwd[0], fwd[1]})
		return err
	}
	return nil
}

// renewCaptureLocked gives an app whose capture ended (it was done, and
// is started again by an operator) new pipes writing into the same ring.
// Forwarding ended with the first capture: its starter saw the app done.
// The caller holds s.mu.
func (s *Supervisor) renewCaptureLocked(a *App) error {
	old := a.capture
	if old == nil || !old.writesClosed.Load() {
		return nil
	}
	return s.openCapture(a, old.ring, [2]int{-1, -1})
}

// openCapture makes the pipes and starts the readers of a capture into
// ring, forwarding to fwd (-1: not); the write ends become a.stdio[1], [2].
// On error nothing changed.
func (s *Supervisor) openCapture(a *App, ring *logRing, fwd [2]int) error {
	c := &capture{ring: ring, done: make(chan struct{})}
	for i := range c.streams {
		var p [2]int
		if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
			c.abort()
			return fmt.Errorf("make %s pipe: %w", streamNames[i], err)
		}
		if err := unix.SetNonblock(p[0], true); err != nil {
			_ = unix.Close(p[0])
			_ = unix.Close(p[1])
			c.abort()
			return fmt.Errorf("make %s pipe: %w", streamNames[i], err)
		}
		c.streams[i] = &captured{name: streamNames[i], r: os.NewFile(uintptr(p[0]), "app-"+streamNames[i]), w: p[1], forward: fwd[i]}
	}
	for i, st := range c.streams {
		a.stdio[1+i] = st.w
	}
	a.capture = c
	c.wg.Add(len(c.streams))
	for _, st := range c.streams {
		s.wg.Go(func() {
			defer c.wg.Done()
			s.readStream(a, c, st)
		})
	}
	s.wg.Go(func() {
		c.wg.Wait()
		close(c.done)
	})
	return nil
}

// abort undoes a startCapture that failed half way: the streams made so far
// are closed, the app's stdio keeps what setUpApp held.
func (c *capture) abort() {
	for _, st := range c.streams {
		if st != nil {
			_ = st.r.Close()
			_ = unix.Close(st.w)
		}
	}
}

// closeWrites closes the supervisor's write ends: once the app's processes
// closed theirs, the readers see EOF. They give up after captureDrain.
func (c *capture) closeWrites() {
	c.writesClosed.Store(true)
	for _, st := range c.streams {
		st.closeOnce.Do(func() {
			_ = unix.Close(st.w)
			_ = st.r.SetReadDeadline(time.Now().Add(captureDrain))
		})
	}
}

// readStream records st's lines until EOF (or the drain deadline), then
// closes the read end and the forward descriptor.
func (s *Supervisor) readStream(a *App, c *capture, st *captured) {
	defer func() {
		_ = st.r.Close()
		if st.forward >= 0 {
			_ = unix.Close(st.forward)
		}
	}()
	br := bufio.NewReaderSize(st.r, MaxLogLine)
	split := false // the last line recorded was cut at MaxLogLine
	for {
		line, err := br.ReadSlice('\n')
		if len(line) > 0 {
			// the newline that ends a line cut at exactly MaxLogLine
			// bytes is no line of its own
			s.recordLine(a, c, st, line, split && len(line) == 1 && line[0] == '\n')
		}
		split = errors.Is(err, bufio.ErrBufferFull)
		switch {
		case err == nil || split:
			continue
		case !errors.Is(err, io.EOF):
			s.log.Warn().Err(err).Str("app", a.name).Str("stream", st.name).Msg("app output no longer read")
		}
		return
	}
}

// recordLine forwards a line's bytes as read, then logs it and keeps it in
// the ring without its newline.
// With forwardOnly the line is only forwarded.
func (s *Supervisor) recordLine(a *App, c *capture, st *captured, line []byte, forwardOnly bool) {
	if st.forward >= 0 && writeAll(st.forward, line) != nil {
		_ = unix.Close(st.forward) // the starter's end is gone: stop forwarding
		st.forward = -1
	}
	if forwardOnly {
		return
	}
	if line[len(line)-1] == '\n' {
		line = line[:len(line)-1]
	}
	text := string(line)
	seq := c.ring.add(time.Now(), st.name, text)
	s.log.Info().Str("app", a.name).Str("stream", st.name).Uint64("seq", seq).Str("line", text).Msg("app output")
}

// writeAll writes b to fd, which may be non-blocking (the starter's
// terminal or pipe): it waits for room with poll, up to forwardStall.
func writeAll(fd int, b []byte) error {
	for len(b) > 0 {
		n, err := unix.Write(fd, b)
		switch {
		case errors.Is(err, unix.EAGAIN):
			ready, err := unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLOUT}}, int(forwardStall/time.Millisecond))
			if err != nil && !errors.Is(err, unix.EINTR) {
				return err
			}
			if err == nil && ready == 0 {
				return unix.ETIMEDOUT
			}
			continue
		case errors.Is(err, unix.EINTR):
			continue
		case err != nil:
			return err
		}
		b = b[n:]
	}
	return nil
}
