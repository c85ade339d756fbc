package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/migrate-run/migrate/fdpass"
)

// blockLabel is the width a block's labels are right-aligned to: "Next
// start" and two columns of margin.
const blockLabel = 12

// table writes aligned columns: a header row, then one row per call.
type table struct{ tw *tabwriter.Writer }

func newTable(w io.Writer, header ...string) *table {
	t := &table{tw: tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)}
	t.row(header...)
	return t
}

func (t *table) row(cells ...string) {
	for i, c := range cells {
		if c == "" {
			cells[i] = "-"
		}
	}
	fmt.Fprintln(t.tw, strings.Join(cells, "\t"))
}

func (t *table) flush() error { return t.tw.Flush() }

// num is n in decimal, "" (shown as "-") for 0.
func num[T ~int | ~uint64](n T) string {
	if n == 0 {
		return ""
	}
	return strconv.FormatUint(uint64(n), 10)
}

// bytesize is n bytes for people: "42 B", "3.1 KiB", "2.0 MiB", "1.5 GiB",
// "2.0 TiB".
func bytesize[T ~int | ~int64 | ~uint64](n T) string {
	switch {
	case n < 1024:
		return fmt.Sprintf("%d B", n)
	case n < 1<<20:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	case n < 1<<30:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case uint64(n) < 1<<40:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	}
	return fmt.Sprintf("%.1f TiB", float64(n)/(1<<40))
}

// span is a duration for people, to the second and in at most two units:
// "12s", "3m12s", "2h5m", "3d4h"; "0s" for a negative one.
func span(d time.Duration) string {
	s := int64(max(d.Round(time.Second), 0) / time.Second)
	switch {
	case s < 60:
		return fmt.Sprintf("%ds", s)
	case s < 3600:
		return fmt.Sprintf("%dm%ds", s/60, s%60)
	case s < 86400:
		return fmt.Sprintf("%dh%dm", s/3600, s%3600/60)
	}
	return fmt.Sprintf("%dd%dh", s/86400, s%86400/3600)
}

// until is t relative to now: "in 59m48s", "expired 3s ago", "" for the zero
// time. It rounds to seconds.
func until(t, now time.Time) string {
	if t.IsZero() {
		return ""
	}
	d := t.Sub(now).Round(time.Second)
	if d < 0 {
		return "expired " + (-d).String() + " ago"
	}
	return "in " + d.String()
}

// ago is t relative to now: "12s ago".
func ago(t, now time.Time) string {
	if t.IsZero() {
		return ""
	}
	return now.Sub(t).Round(time.Second).String() + " ago"
}

// endpoints is a socket's "local -> peer", a file's path, or its kind.
func endpoints(d fdpass.Description) string {
	switch {
	case d.Local != "" || d.Peer != "":
		return orDash(d.Local) + " -> " + orDash(d.Peer)
	case d.Path != "":
		return d.Path
	}
	return string(d.Kind)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// joinIDs is ids in decimal, comma separated.
func joinIDs[T fmt.Stringer](ids []T) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = id.String()
	}
	return strings.Join(s, ", ")
}

func joinInts(v []int) string {
	s := make([]string, len(v))
	for i, n := range v {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ",")
}

// block writes labelled lines, the labels right-aligned to blockLabel
// columns, and keeps the first write error.
type block struct {
	w   io.Writer
	err error
}

func (b *block) printf(format string, a ...any) {
	if b.err == nil {
		_, b.err = fmt.Fprintf(b.w, format, a...)
	}
}

// line writes "   label: value", further values on lines of their own
// under the first; nothing when there is no value or it is empty.
func (b *block) line(label string, values ...string) {
	if len(values) == 0 || len(values) == 1 && values[0] == "" {
		return
	}
	b.printf("%*s: %s\n", blockLabel, label, values[0])
	for _, v := range values[1:] {
		b.printf("%*s  %s\n", blockLabel, "", v)
	}
}
