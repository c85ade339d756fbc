package benchout

import (
	"errors"
	"testing"
	"time"
)

func TestSummarize(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 200; i++ {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	s := Summarize(d)
	if s.N != 200 || s.Median != 100 || s.P99 != 198 || s.Min != 1 || s.Max != 200 || s.Mean != 100.5 {
		t.Fatalf("Summarize(1..200 ms) = %+v", s)
	}
	if z := Summarize(nil); z != (Dist{}) {
		t.Fatalf("Summarize(nil) = %+v, want zero", z)
	}
}

func TestWriteRead(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(EnvOut, dir)
	in := Floor{Rows: []FloorRow{{Key: FloorFsync4K, Label: "fsync", Dist: Dist{N: 3, Median: 0.2}}}}
	if err := Write(SectionFloor, in); err != nil {
		t.Fatal(err)
	}
	var out Floor
	if err := Read(dir, SectionFloor, &out); err != nil {
		t.Fatal(err)
	}
	if len(out.Rows) != 1 || out.Rows[0] != in.Rows[0] {
		t.Fatalf("read back %+v, want %+v", out, in)
	}
	if err := Read(dir, SectionScale, &out); !errors.Is(err, ErrMissing) {
		t.Fatalf("Read of an unwritten section: %v, want ErrMissing", err)
	}
	t.Setenv(EnvOut, "")
	if err := Write(SectionScale, Scale{}); err != nil {
		t.Fatalf("Write without %s: %v", EnvOut, err)
	}
}
