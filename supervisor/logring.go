package supervisor

import (
	"sync"
	"time"
)

// Defaults of Config.LogLines and Config.LogBytes.
const (
	DefaultLogLines = 1000
	DefaultLogBytes = 256 << 10
	// MaxLogLine is the longest line a captured stream records: a longer
	// one is recorded as several lines of at most this many bytes.
	MaxLogLine = 4 << 10
)

// LogLine is one line an app wrote to its standard output or error, without
// its newline.
type LogLine struct {
	// Seq numbers the app's lines from 1 up, across both streams; a
	// reader that has seen Seq asks for Seq+1 next (AdminClient.Logs).
	Seq    uint64    `json:"seq"`
	Time   time.Time `json:"time"`
	Stream string    `json:"stream"` // stdout or stderr
	// Text is the line's bytes; JSON carries invalid UTF-8 as U+FFFD.
	Text string `json:"text"`
}

// logRing keeps an app's last lines, bounded by a count and by the bytes of
// their text.
type logRing struct {
	mu       sync.Mutex
	lines    []LogLine
	bytes    int
	next     uint64 // Seq of the next line
	maxLines int
	maxBytes int
}

func newLogRing(maxLines, maxBytes int) *logRing {
	return &logRing{next: 1, maxLines: maxLines, maxBytes: maxBytes}
}

// add records a line and drops the oldest ones beyond the bounds.
func (r *logRing) add(at time.Time, stream, text string) uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	seq := r.next
	r.next++
	r.lines = append(r.lines, LogLine{Seq: seq, Time: at, Stream: stream, Text: text})
	r.bytes += len(text)
	drop := 0
	for drop < len(r.lines) && (len(r.lines)-drop > r.maxLines || r.bytes > r.maxBytes) {
		r.bytes -= len(r.lines[drop].Text)
		drop++
	}
	if drop > 0 {
		r.lines = append(r.lines[:0:0], r.lines[drop:]...)
	}
	return seq
}

// lineCost bounds a line's size in a JSON reply: every byte of text may
// become a six-byte escape, and the other fields take less than 128 bytes.
func lineCost(l LogLine) int { return 6*len(l.Text) + 128 }

// since returns copies of the kept lines numbered since or later, at most
// budget bytes by lineCost (but at least one line), and whether more follow.
func (r *logRing) since(since uint64, budget int) (lines []LogLine, more bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	lines = []LogLine{}
	used := 0
	for _, l := range r.lines {
		if l.Seq < since {
			continue
		}
		if len(lines) > 0 && used+lineCost(l) > budget {
			return lines, true
		}
		used += lineCost(l)
		lines = append(lines, l)
	}
	return lines, false
}

// nextSeq returns the Seq the next line will get.
func (r *logRing) nextSeq() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.next
}
