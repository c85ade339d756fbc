package wire

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func TestFramesRoundTripWhateverTheChunking(t *testing.T) {
	var stream []byte
	stream = AppendHello(stream, Hello{Term: "xterm-256color", Size: Winsize{Rows: 50, Cols: 132}, Command: "ls -l"})
	stream = AppendData(stream, []byte("echo hi\r"))
	stream = AppendWinsize(stream, Winsize{Rows: 24, Cols: 80})
	stream = AppendEOF(stream)
	stream = AppendFrame(stream, TypeData, nil)
	stream = AppendExit(stream, Exit{How: Signaled, Code: 9, Message: "shell killed"})
	for _, chunk := range []int{1, 2, 3, 7, len(stream)} {
		var d Decoder
		var got []Frame
		for i := 0; i < len(stream); i += chunk {
			d.Feed(stream[i:min(i+chunk, len(stream))])
			for {
				f, ok, err := d.Next()
				if err != nil {
					t.Fatalf("chunks of %d: %v", chunk, err)
				}
				if !ok {
					break
				}
				got = append(got, Frame{f.Type, bytes.Clone(f.Payload)})
			}
		}
		if len(d.Buffered()) != 0 {
			t.Errorf("chunks of %d: %d bytes left buffered", chunk, len(d.Buffered()))
		}
		types := []Type{TypeHello, TypeData, TypeWinsize, TypeEOF, TypeData, TypeExit}
		if len(got) != len(types) {
			t.Fatalf("chunks of %d: %d frames, want %d", chunk, len(got), len(types))
		}
		for i, f := range got {
			if f.Type != types[i] {
				t.Errorf("chunks of %d: frame %d is %v, want %v", chunk, i, f.Type, types[i])
			}
		}
		h, err := ParseHello(got[0].Payload)
		if err != nil || h != (Hello{Term: "xterm-256color", Size: Winsize{50, 132}, Command: "ls -l"}) {
			t.Errorf("hello %+v, %v", h, err)
		}
		if string(got[1].Payload) != "echo hi\r" || len(got[4].Payload) != 0 {
			t.Errorf("data %q and %q", got[1].Payload, got[4].Payload)
		}
		if ws, err := ParseWinsize(got[2].Payload); err != nil || ws != (Winsize{24, 80}) {
			t.Errorf("window size %+v, %v", ws, err)
		}
		if e, err := ParseExit(got[5].Payload); err != nil || e != (Exit{Signaled, 9, "shell killed"}) {
			t.Errorf("exit %+v, %v", e, err)
		}
	}
}

// TestBufferedIsWhatWasNotHandedOut checks the property rshell-server's
// suspend relies on: after any number of frames, Buffered is exactly the
// rest of the stream fed so far.
func TestBufferedIsWhatWasNotHandedOut(t *testing.T) {
	stream := AppendData(nil, []byte("one"))
	stream = AppendWinsize(stream, Winsize{1, 2})
	stream = AppendData(stream, []byte("three"))
	var d Decoder
	d.Feed(stream[:len(stream)-2])
	f, ok, err := d.Next()
	if !ok || err != nil || string(f.Payload) != "one" {
		t.Fatalf("first frame %v %q %v %v", f.Type, f.Payload, ok, err)
	}
	consumed := HeaderSize + 3
	if !bytes.Equal(d.Buffered(), stream[consumed:len(stream)-2]) {
		t.Errorf("buffered %q, want the rest fed %q", d.Buffered(), stream[consumed:len(stream)-2])
	}
	d.Next() // the window size
	if _, ok, _ := d.Next(); ok {
		t.Fatal("a frame missing its last two bytes was handed out")
	}
	if want := stream[consumed+HeaderSize+4 : len(stream)-2]; !bytes.Equal(d.Buffered(), want) {
		t.Errorf("buffered %q, want the partial frame %q", d.Buffered(), want)
	}
}

func TestLargeDataIsSplit(t *testing.T) {
	p := bytes.Repeat([]byte("x"), 2*MaxPayload+1)
	var d Decoder
	d.Feed(AppendData(nil, p))
	var got []byte
	frames := 0
	for {
		f, ok, err := d.Next()
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		frames++
		got = append(got, f.Payload...)
	}
	if frames != 3 || !bytes.Equal(got, p) {
		t.Errorf("%d frames carrying %d bytes, want 3 carrying %d", frames, len(got), len(p))
	}
	if len(AppendData(nil, nil)) != 0 {
		t.Error("empty data encoded as a frame")
	}
}

func TestBadHeadersStopTheStream(t *testing.T) {
	for _, c := range []struct {
		name  string
		bytes []byte
		want  error
	}{
		{"type 0", []byte{0, 0, 0, 0, 0}, ErrUnknownType},
		{"type 6", []byte{6, 0, 0, 0, 0}, ErrUnknownType},
		{"too large", []byte{byte(TypeData), 0, 1, 0, 1}, ErrTooLarge},
		{"huge", []byte{byte(TypeHello), 0xff, 0xff, 0xff, 0xff}, ErrTooLarge},
	} {
		var d Decoder
		d.Feed(c.bytes)
		if _, ok, err := d.Next(); ok || !errors.Is(err, c.want) {
			t.Errorf("%s: ok %v, %v; want %v", c.name, ok, err, c.want)
		}
		d.Feed(AppendEOF(nil))
		if _, _, err := d.Next(); !errors.Is(err, c.want) {
			t.Errorf("%s: after a good frame: %v, want the error again", c.name, err)
		}
	}
}

func TestBadPayloadsAreMalformed(t *testing.T) {
	hello := func(version byte, termLen byte, rest string) []byte {
		return append([]byte{version, 0, 24, 0, 80, termLen}, rest...)
	}
	for _, c := range []struct {
		name  string
		parse func([]byte) error
		p     []byte
	}{
		{"short hello", parseHello, []byte{1, 0, 24, 0, 80}},
		{"hello version 2", parseHello, hello(2, 0, "")},
		{"TERM longer than the payload", parseHello, hello(1, 9, "xterm")},
		{"TERM with a space", parseHello, hello(1, 3, "a b")},
		{"TERM with =", parseHello, hello(1, 3, "a=b")},
		{"TERM too long", parseHello, hello(1, 65, strings.Repeat("x", 65))},
		{"command with NUL", parseHello, hello(1, 0, "ls\x00-l")},
		{"command not UTF-8", parseHello, hello(1, 0, "ls \xff")},
		{"window size of 3 bytes", parseWinsize, []byte{0, 24, 0}},
		{"window size of 5 bytes", parseWinsize, []byte{0, 24, 0, 80, 0}},
		{"exit of 1 byte", parseExit, []byte{1}},
		{"exit how 0", parseExit, []byte{0, 0}},
		{"exit how 4", parseExit, []byte{4, 0}},
		{"signal 0", parseExit, []byte{2, 0}},
		{"signal 65", parseExit, []byte{2, 65}},
		{"unknown with a code", parseExit, []byte{3, 1}},
		{"message not UTF-8", parseExit, []byte{1, 0, 0xff}},
		{"message too long", parseExit, append([]byte{1, 0}, strings.Repeat("m", MaxMessage+1)...)},
	} {
		if err := c.parse(c.p); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v, want ErrMalformed", c.name, err)
		}
	}
}

func parseHello(p []byte) error   { _, err := ParseHello(p); return err }
func parseWinsize(p []byte) error { _, err := ParseWinsize(p); return err }
func parseExit(p []byte) error    { _, err := ParseExit(p); return err }

func TestExitCodesAndMessages(t *testing.T) {
	for _, c := range []struct {
		e    Exit
		code int
		text string
	}{
		{Exit{How: Exited, Code: 3}, 3, "exit status 3"},
		{Exit{How: Signaled, Code: 1}, 129, "killed by signal 1"},
		{Exit{How: Unknown, Message: "waiter gone"}, 255, "exit status unknown: waiter gone"},
	} {
		if c.e.ExitCode() != c.code || c.e.String() != c.text {
			t.Errorf("%+v: code %d %q, want %d %q", c.e, c.e.ExitCode(), c.e.String(), c.code, c.text)
		}
	}
	long := Exit{How: Unknown, Message: strings.Repeat("é", MaxMessage)} // 2 bytes a rune
	var d Decoder
	d.Feed(AppendExit(nil, long))
	f, _, _ := d.Next()
	e, err := ParseExit(f.Payload)
	if err != nil || len(e.Message) != MaxMessage || !strings.HasPrefix(long.Message, e.Message) {
		t.Errorf("a long message came back as %d bytes, %v; want it cut to %d", len(e.Message), err, MaxMessage)
	}
}

func TestReaderEndsCleanlyOnlyBetweenFrames(t *testing.T) {
	stream := AppendData(AppendEOF(nil), []byte("abc"))
	r := NewReader(iotest.OneByteReader(bytes.NewReader(stream)))
	for _, want := range []Type{TypeEOF, TypeData} {
		if f, err := r.Next(); err != nil || f.Type != want {
			t.Fatalf("got %v, %v; want %v", f.Type, err, want)
		}
	}
	if _, err := r.Next(); err != io.EOF {
		t.Errorf("at the end: %v, want io.EOF", err)
	}
	r = NewReader(bytes.NewReader(stream[:len(stream)-1]))
	r.Next()
	if _, err := r.Next(); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("inside a frame: %v, want io.ErrUnexpectedEOF", err)
	}
	if len(r.Buffered()) != HeaderSize+2 {
		t.Errorf("buffered %d bytes, want the partial frame's %d", len(r.Buffered()), HeaderSize+2)
	}
}
