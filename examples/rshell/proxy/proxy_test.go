package proxy

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/migrate-run/migrate/examples/rshell/wire"
	"go.uber.org/goleak"
	"golang.org/x/sys/unix"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// duplex is an End made of two pipes: the proxy reads r and writes w.
type duplex struct{ r, w *os.File }

func (d duplex) Read(p []byte) (int, error)         { return d.r.Read(p) }
func (d duplex) Write(p []byte) (int, error)        { return d.w.Write(p) }
func (d duplex) SetReadDeadline(t time.Time) error  { return d.r.SetReadDeadline(t) }
func (d duplex) SetWriteDeadline(t time.Time) error { return d.w.SetWriteDeadline(t) }

// pipe returns a pipe of one page, so that writes block and end part-way.
func pipe(t *testing.T) (r, w *os.File) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(); w.Close() })
	rc, _ := w.SyscallConn()
	rc.Control(func(fd uintptr) { unix.FcntlInt(fd, unix.F_SETPIPE_SZ, 4096) })
	return r, w
}

// rig is a proxy's surroundings: the test plays the client and the shell.
type rig struct {
	cfg      Config
	toProxy  *os.File // the client's stream, written by the test
	fromUp   *os.File // what the proxy sends the client
	toPTY    *os.File // the shell's output, written by the test
	fromDown *os.File // what the proxy writes to the pty
	mu       sync.Mutex
	resizes  []wire.Winsize
}

func newRig(t *testing.T) *rig {
	t.Helper()
	before := openFDs(t)
	t.Cleanup(func() {
		if after := openFDs(t); after != before {
			t.Errorf("%d descriptors open after the test, %d before", after, before)
		}
	})
	r := &rig{}
	c2p, toProxy := pipe(t)
	fromUp, p2c := pipe(t)
	t2p, toPTY := pipe(t)
	fromDown, p2t := pipe(t)
	r.toProxy, r.fromUp, r.toPTY, r.fromDown = toProxy, fromUp, toPTY, fromDown
	r.cfg = Config{
		Client: duplex{c2p, p2c},
		PTY:    duplex{t2p, p2t},
		Resize: func(ws wire.Winsize) error {
			r.mu.Lock()
			r.resizes = append(r.resizes, ws)
			r.mu.Unlock()
			return nil
		},
		EOFChar: func() (byte, error) { return 4, nil },
	}
	return r
}

func openFDs(t *testing.T) int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// writeChunks writes p to w in pieces of random size, then closes nothing.
func writeChunks(w io.Writer, p []byte, rng *rand.Rand) error {
	for len(p) > 0 {
		n := min(len(p), 1+rng.IntN(5000))
		if _, err := w.Write(p[:n]); err != nil {
			return err
		}
		p = p[n:]
	}
	return nil
}

// clientStream returns a client's stream of data, window-size and eof
// frames, the bytes it must put on the pty, and its window sizes.
func clientStream(rng *rand.Rand) (stream, onPTY []byte, sizes []wire.Winsize) {
	for i := range 400 {
		switch rng.IntN(10) {
		case 0:
			ws := wire.Winsize{Rows: uint16(i), Cols: uint16(2 * i)}
			stream = wire.AppendWinsize(stream, ws)
			sizes = append(sizes, ws)
		case 1:
			stream = wire.AppendEOF(stream)
			onPTY = append(onPTY, 4)
		default:
			n := 1 + rng.IntN(3000)
			if rng.IntN(4) == 0 {
				n = 5000 + rng.IntN(20000) // beyond the pipe: written in parts
			}
			p := make([]byte, n)
			for j := range p {
				p[j] = byte('a' + rng.IntN(26))
			}
			stream = wire.AppendData(stream, p)
			onPTY = append(onPTY, p...)
		}
	}
	return stream, onPTY, sizes
}

// collect reads r until it has want bytes (after decoding frames, if
// decode), and sends them.
func collect(r io.Reader, want int, decode bool) <-chan []byte {
	out := make(chan []byte, 1)
	go func() {
		var got []byte
		var d wire.Decoder
		buf := make([]byte, 700) // small reads: the proxy's writes block
		for len(got) < want {
			n, err := r.Read(buf)
			if !decode {
				got = append(got, buf[:n]...)
			} else {
				d.Feed(buf[:n])
				for f, ok, _ := d.Next(); ok; f, ok, _ = d.Next() {
					got = append(got, f.Payload...)
				}
			}
			if err != nil {
				break
			}
		}
		out <- got
	}()
	return out
}

// TestStopAndStartLoseNothing stops a busy proxy hundreds of times at
// random moments, each time starting a new one from what the old one held,
// as a suspended and resumed server does. Every byte of the shell's output
// reaches the client and every keystroke, eof and window size reaches the
// pty, exactly once and in order; at the end nothing is held.
func TestStopAndStartLoseNothing(t *testing.T) {
	r := newRig(t)
	rng := rand.New(rand.NewPCG(1, 2))
	output := make([]byte, 1<<20)
	for i := range output {
		output[i] = byte(rng.Uint32())
	}
	stream, onPTY, sizes := clientStream(rng)

	var writers sync.WaitGroup
	writers.Add(2)
	go func() { defer writers.Done(); writeChunks(r.toPTY, output, rand.New(rand.NewPCG(3, 4))) }()
	go func() { defer writers.Done(); writeChunks(r.toProxy, stream, rand.New(rand.NewPCG(5, 6))) }()
	gotOut := collect(r.fromUp, len(output), true)
	gotIn := collect(r.fromDown, len(onPTY), false)

	var p Pending
	heldUp, heldDown := 0, 0
	for range 300 {
		x := Start(r.cfg, p)
		time.Sleep(time.Duration(rng.IntN(300)) * time.Microsecond) // a random moment to stop at
		var err error
		if p, err = x.Stop(); err != nil {
			t.Fatalf("stop: %v", err)
		}
		if len(p.ToClient) > 0 {
			heldUp++
		}
		if len(p.FromClient) > 0 {
			heldDown++
		}
	}
	x := Start(r.cfg, p)
	out, in := receive(t, gotOut), receive(t, gotIn)
	writers.Wait()
	p, err := x.Stop()
	if err != nil || len(p.ToClient) != 0 || len(p.FromClient) != 0 {
		t.Errorf("the last stop held %d and %d bytes, %v; want nothing", len(p.ToClient), len(p.FromClient), err)
	}
	if !bytes.Equal(out, output) {
		t.Errorf("the client got %d bytes of output, not the shell's %d (first difference at %d)", len(out), len(output), firstDiff(out, output))
	}
	if !bytes.Equal(in, onPTY) {
		t.Errorf("the pty got %d bytes, not the client's %d (first difference at %d)", len(in), len(onPTY), firstDiff(in, onPTY))
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.resizes) != len(sizes) || len(sizes) > 0 && r.resizes[len(r.resizes)-1] != sizes[len(sizes)-1] {
		t.Errorf("%d window sizes applied, want the client's %d", len(r.resizes), len(sizes))
	}
	for i := range min(len(r.resizes), len(sizes)) {
		if r.resizes[i] != sizes[i] {
			t.Fatalf("window size %d is %+v, want %+v", i, r.resizes[i], sizes[i])
		}
	}
	// Otherwise the test proves little: stops must have caught bytes in
	// hand both ways.
	if heldUp == 0 || heldDown == 0 {
		t.Errorf("of 300 stops, %d held output and %d held client bytes; want some of each", heldUp, heldDown)
	}
	t.Logf("of 300 stops, %d held output for the client, %d held client bytes", heldUp, heldDown)
}

// receive waits for a collector; a lost byte would keep it waiting, so
// it gives up after 20 s (the pipes close at cleanup and end it).
func receive(t *testing.T, c <-chan []byte) []byte {
	t.Helper()
	select {
	case b := <-c:
		return b
	case <-time.After(20 * time.Second):
		t.Fatal("bytes missing after 20 s")
		return nil
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// TestPendingGoesFirst starts a proxy with bytes in hand: the output held
// reaches the client before new output, and a held partial frame completes
// with the client's next bytes.
func TestPendingGoesFirst(t *testing.T) {
	r := newRig(t)
	frame := wire.AppendData(nil, []byte("typed"))
	held := wire.AppendData(nil, []byte("held output "))
	x := Start(r.cfg, Pending{ToClient: held[3:], FromClient: frame[:7]}) // both mid-frame
	r.toPTY.WriteString("new output")
	r.toProxy.Write(frame[7:])
	up := make([]byte, len(held)-3+wire.HeaderSize+len("new output"))
	if _, err := io.ReadFull(r.fromUp, up); err != nil {
		t.Fatal(err)
	}
	if want := append(held[3:], wire.AppendData(nil, []byte("new output"))...); !bytes.Equal(up, want) {
		t.Errorf("the client got %q, want %q", up, want)
	}
	down := make([]byte, len("typed"))
	if _, err := io.ReadFull(r.fromDown, down); err != nil || string(down) != "typed" {
		t.Errorf("the pty got %q, %v; want typed", down, err)
	}
	if p, err := x.Stop(); err != nil || len(p.ToClient)+len(p.FromClient) != 0 {
		t.Errorf("stop: held %+v, %v; want nothing", p, err)
	}
}

func TestDirectionsEndOnTheirOwn(t *testing.T) {
	for _, c := range []struct {
		name string
		do   func(r *rig)
		want error
	}{
		{"client closed", func(r *rig) { r.toProxy.Close() }, ErrClientGone},
		{"pty closed", func(r *rig) { r.toPTY.Close() }, ErrPTYClosed},
		{"client stopped reading", func(r *rig) { r.fromUp.Close(); r.toPTY.WriteString("output") }, ErrClientGone},
		{"unknown frame", func(r *rig) { r.toProxy.Write([]byte{9, 0, 0, 0, 0}) }, ErrProtocol},
		{"second hello", func(r *rig) { r.toProxy.Write(wire.AppendHello(nil, wire.Hello{})) }, ErrProtocol},
		{"bad window size", func(r *rig) { r.toProxy.Write(wire.AppendFrame(nil, wire.TypeWinsize, []byte{1})) }, ErrProtocol},
		{"exit from the client", func(r *rig) { r.toProxy.Write(wire.AppendExit(nil, wire.Exit{How: wire.Exited})) }, ErrProtocol},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := newRig(t)
			x := Start(r.cfg, Pending{})
			c.do(r)
			select {
			case <-x.Ended():
			case <-time.After(10 * time.Second):
				t.Fatal("the proxy did not end")
			}
			if _, err := x.Stop(); !errors.Is(err, c.want) {
				t.Errorf("stop: %v, want %v", err, c.want)
			}
		})
	}
}

func TestAFailedResizeEndsTheProxy(t *testing.T) {
	r := newRig(t)
	r.cfg.Resize = func(wire.Winsize) error { return unix.ENOTTY }
	x := Start(r.cfg, Pending{FromClient: wire.AppendWinsize(nil, wire.Winsize{Rows: 1, Cols: 1})})
	<-x.Ended()
	if _, err := x.Stop(); !errors.Is(err, ErrPTYClosed) || !errors.Is(err, unix.ENOTTY) {
		t.Errorf("stop: %v, want ErrPTYClosed wrapping ENOTTY", err)
	}
}
