package wire

import (
	"bytes"
	"testing"
)

// FuzzDecoder feeds arbitrary bytes in arbitrary chunks: the decoder never
// panics, every frame it hands out re-encodes to exactly the bytes it was
// decoded from, and every payload that parses encodes back to itself.
func FuzzDecoder(f *testing.F) {
	f.Add(AppendHello(nil, Hello{Term: "xterm", Size: Winsize{24, 80}, Command: "ls"}), uint8(3))
	f.Add(AppendData(AppendWinsize(nil, Winsize{1, 1}), []byte("data")), uint8(1))
	f.Add(AppendExit(AppendEOF(nil), Exit{How: Exited, Code: 1, Message: "bye"}), uint8(0))
	f.Add([]byte{byte(TypeData), 0, 1, 0, 1}, uint8(2))
	f.Add([]byte{7, 0, 0, 0, 0}, uint8(5))
	f.Fuzz(func(t *testing.T, stream []byte, chunk uint8) {
		step := int(chunk)%16 + 1
		var d Decoder
		var out []byte
		for i := 0; i < len(stream); i += step {
			d.Feed(stream[i:min(i+step, len(stream))])
			for {
				fr, ok, err := d.Next()
				if err != nil || !ok {
					break
				}
				out = AppendFrame(out, fr.Type, fr.Payload)
				checkPayload(t, fr)
			}
		}
		if !bytes.HasPrefix(stream, out) {
			t.Fatalf("frames re-encode to %x, not a prefix of the stream %x", out, stream)
		}
		if _, _, err := d.Next(); err == nil && !bytes.Equal(append(out, d.Buffered()...), stream) {
			t.Fatalf("frames and Buffered do not make up the stream")
		}
	})
}

func checkPayload(t *testing.T, fr Frame) {
	var again []byte
	switch fr.Type {
	case TypeHello:
		h, err := ParseHello(fr.Payload)
		if err != nil {
			return
		}
		again = AppendHello(nil, h)
	case TypeWinsize:
		ws, err := ParseWinsize(fr.Payload)
		if err != nil {
			return
		}
		again = AppendWinsize(nil, ws)
	case TypeExit:
		e, err := ParseExit(fr.Payload)
		if err != nil {
			return
		}
		again = AppendExit(nil, e)
	default:
		return
	}
	if !bytes.Equal(again[HeaderSize:], fr.Payload) {
		t.Fatalf("%v payload %x parses and encodes back as %x", fr.Type, fr.Payload, again[HeaderSize:])
	}
}
