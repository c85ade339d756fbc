package supervisor

import (
	"encoding/json"
	"io"
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// captureScript prints to both streams: short lines, a 5000-byte line, a
// line of exactly MaxLogLine bytes, and a last line without a newline.
const captureScript = `printf 'one\ntwo\n'; printf 'err one\n' >&2
head -c 5000 /dev/zero | tr '\0' x; printf '\n'
head -c 4096 /dev/zero | tr '\0' y; printf '\n'
printf 'no newline' >&2; printf 'tail'`

// An app's output is read line by line into its ring and the log, long
// lines cut at MaxLogLine, the partial last lines kept; the bytes reach the
// starter's descriptor unchanged; once the app is done and stopped no
// descriptor or goroutine of the capture remains.
func TestCaptureLines(t *testing.T) {
	logBuf := &lockedBuffer{}
	h := newHarness(t, func(c *Config) { c.Log = zerolog.New(logBuf) })
	fds, goroutines := openFDs(t), runtime.NumGoroutine()
	outR, outW := pipe(t)
	out := os.NewFile(uintptr(outR), "out")
	t.Cleanup(func() { out.Close() })
	a, err := h.s.StartApp(AppSpec{Name: "printer", Args: []string{"sh", "-c", captureScript},
		Env: []string{"PATH=/usr/bin:/bin"}, Cwd: "/", Stdio: [3]int{-1, outW, -1}, Capture: true})
	closeFDs([]int{outW})
	if err != nil {
		t.Fatalf("StartApp: %v", err)
	}
	forwarded, err := io.ReadAll(out) // EOF: the reader closed its copy
	out.Close()
	if err != nil {
		t.Fatal(err)
	}
	x, y := strings.Repeat("x", 5000), strings.Repeat("y", 4096)
	if want := "one\ntwo\n" + x + "\n" + y + "\ntail"; string(forwarded) != want {
		t.Fatalf("forwarded %d bytes, want the %d the app wrote", len(forwarded), len(want))
	}
	page := waitLogsDone(t, h.s, "printer")
	got := map[string][]string{}
	for i, l := range page.Lines {
		if l.Seq != uint64(i+1) || l.Time.IsZero() {
			t.Fatalf("line %d is %+v, want seq %d and a time", i, l, i+1)
		}
		got[l.Stream] = append(got[l.Stream], l.Text)
	}
	wantOut := []string{"one", "two", x[:MaxLogLine], x[MaxLogLine:], y, "tail"}
	wantErr := []string{"err one", "no newline"}
	if !slices.Equal(got["stdout"], wantOut) || !slices.Equal(got["stderr"], wantErr) || len(got) != 2 {
		t.Fatalf("ring holds stdout %q, stderr %q", got["stdout"], got["stderr"])
	}
	if page.Next != uint64(len(page.Lines)+1) || page.More {
		t.Fatalf("page next %d more %v after %d lines", page.Next, page.More, len(page.Lines))
	}
	checkOutputLog(t, logBuf.String(), len(wantOut), len(wantErr))
	<-a.Done()
	if err := h.s.StopApp("printer"); err != nil {
		t.Fatal(err)
	}
	waitFDs(t, fds)
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > goroutines {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines, %d before the app started", runtime.NumGoroutine(), goroutines)
		}
		time.Sleep(10 * time.Millisecond) // nothing signals a goroutine's end
	}
	if _, err := h.s.Logs("printer", 0); err == nil {
		t.Fatal("Logs of a stopped app succeeded")
	}
}

// waitLogsDone polls an app's logs until they are done.
func waitLogsDone(t *testing.T, s *Supervisor, name string) LogsPage {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		page, err := s.Logs(name, 0)
		if err != nil {
			t.Fatalf("Logs: %v", err)
		}
		if page.Done {
			return page
		}
		if time.Now().After(deadline) {
			t.Fatalf("logs not done: %+v", page)
		}
		time.Sleep(10 * time.Millisecond) // the follower's poll, as migratectl does
	}
}

// checkOutputLog finds one "app output" entry per line, tagged with the
// app and stream, at info level.
func checkOutputLog(t *testing.T, log string, stdout, stderr int) {
	t.Helper()
	count := map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(log), "\n") {
		var e struct{ Level, Message, App, Stream, Line string }
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if e.Message == "app output" && e.App == "printer" && e.Level == "info" {
			count[e.Stream]++
		}
	}
	if count["stdout"] != stdout || count["stderr"] != stderr {
		t.Fatalf("log has %v output entries, want %d stdout and %d stderr:\n%s", count, stdout, stderr, log)
	}
}

// The ring keeps the last lines within both bounds, numbers them on, and
// pages them by the reply budget.
func TestLogRingBounds(t *testing.T) {
	r := newLogRing(3, 10)
	now := time.Now()
	for _, s := range []string{"a", "b", "c", "d"} {
		r.add(now, "stdout", s)
	}
	if lines, more := r.since(0, logsBudget); !slices.Equal(texts(lines), []string{"b", "c", "d"}) || more {
		t.Fatalf("by count: %q, more %v", texts(lines), more)
	}
	if lines, more := r.since(0, 1); !slices.Equal(texts(lines), []string{"b"}) || !more {
		t.Fatalf("a budget below one line gives %q, more %v; want one line and more", texts(lines), more)
	}
	r.add(now, "stderr", "0123456789") // 10 bytes: alone within the byte bound
	if lines, _ := r.since(0, logsBudget); !slices.Equal(texts(lines), []string{"0123456789"}) || lines[0].Seq != 5 {
		t.Fatalf("by bytes: %+v", lines)
	}
	r.add(now, "stdout", "e") // 11 bytes: the long line goes
	if lines, _ := r.since(0, logsBudget); !slices.Equal(texts(lines), []string{"e"}) || lines[0].Seq != 6 {
		t.Fatalf("after the long line: %+v", lines)
	}
	if next := r.nextSeq(); next != 7 {
		t.Fatalf("next seq %d, want 7", next)
	}
}

func texts(lines []LogLine) []string {
	var out []string
	for _, l := range lines {
		out = append(out, l.Text)
	}
	return out
}
