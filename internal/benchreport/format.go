package main

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// fmtMs formats a duration in milliseconds with a precision that suits its
// size: µs below 0.1 ms, seconds from 1 s.
func fmtMs(v float64) string {
	switch a := math.Abs(v); {
	case a == 0:
		return "0 ms"
	case a < 0.1:
		return fmt.Sprintf("%.1f µs", v*1000)
	case a < 10:
		return fmt.Sprintf("%.2f ms", v)
	case a < 1000:
		return fmt.Sprintf("%.1f ms", v)
	case a >= 10000:
		return fmt.Sprintf("%.1f s", v/1000)
	default:
		return fmt.Sprintf("%.2f s", v/1000)
	}
}

// fmtBytes formats a size with binary units.
func fmtBytes(v float64) string {
	const k = 1024.0
	switch a := math.Abs(v); {
	case a < k:
		return fmt.Sprintf("%.0f B", v)
	case a < k*k:
		return fmt.Sprintf("%.1f KiB", v/k)
	case a < k*k*k:
		return fmt.Sprintf("%.1f MiB", v/(k*k))
	default:
		return fmt.Sprintf("%.2f GiB", v/(k*k*k))
	}
}

// fmtCount formats an integer with thousands separators.
func fmtCount(n int) string {
	s := strconv.Itoa(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// fmtFactor formats a ratio such as "3.2×" or "57×".
func fmtFactor(x float64) string {
	if x >= 10 {
		return fmt.Sprintf("%.0f×", x)
	}
	return fmt.Sprintf("%.1f×", x)
}

// mdWriter builds a markdown document.
type mdWriter struct{ strings.Builder }

func (w *mdWriter) line(format string, args ...any) {
	fmt.Fprintf(w, format, args...)
	w.WriteByte('\n')
}

// para writes a paragraph followed by a blank line.
func (w *mdWriter) para(format string, args ...any) {
	w.line(format, args...)
	w.WriteByte('\n')
}

func (w *mdWriter) heading(level int, title string) {
	w.para("%s %s", strings.Repeat("#", level), title)
}

// table writes a markdown table; cells are escaped.
func (w *mdWriter) table(head []string, rows [][]string) {
	w.row(head)
	sep := make([]string, len(head))
	for i := range sep {
		sep[i] = "---"
	}
	w.row(sep)
	for _, r := range rows {
		w.row(r)
	}
	w.WriteByte('\n')
}

func (w *mdWriter) row(cells []string) {
	esc := make([]string, len(cells))
	for i, c := range cells {
		esc[i] = strings.ReplaceAll(strings.ReplaceAll(c, "|", `\|`), "\n", " ")
	}
	w.line("| %s |", strings.Join(esc, " | "))
}

// code writes a fenced block of preformatted text.
func (w *mdWriter) code(text string) {
	w.line("```text")
	w.line("%s", strings.TrimRight(text, "\n"))
	w.para("```")
}

// notes writes a section's notes as a list.
func (w *mdWriter) notes(notes []string) {
	if len(notes) == 0 {
		return
	}
	for _, n := range notes {
		w.line("- %s", strings.TrimSpace(n))
	}
	w.WriteByte('\n')
}

// headLines returns at most n lines of text.
func headLines(text string, n int) string {
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	if len(lines) > n {
		lines = append(lines[:n], "…")
	}
	return strings.Join(lines, "\n")
}
