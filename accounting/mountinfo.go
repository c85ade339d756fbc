package accounting

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// mountEntry is what accounting uses of one /proc/self/mountinfo line.
type mountEntry struct {
	root   string   // the directory of the filesystem that is mounted (field 4)
	point  string   // where it is mounted (field 5)
	fstype string   // after the " - " separator
	super  []string // superblock options: a cgroup v1 mount's controllers
}

// maxMountinfoLine bounds one line; overlay mounts can exceed bufio's
// default 64 KiB.
const maxMountinfoLine = 1 << 20

// parseMountinfo decodes /proc/<pid>/mountinfo (proc(5)). A malformed line
// is an error naming its number: the kernel writes this file, so a bad line
// means we are not reading what we think we are.
func parseMountinfo(r io.Reader) ([]mountEntry, error) {
	var out []mountEntry
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxMountinfoLine)
	for n := 1; sc.Scan(); n++ {
		e, err := parseMountLine(sc.Text())
		if err != nil {
			return nil, fmt.Errorf("parse mountinfo line %d: %w", n, err)
		}
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read mountinfo: %w", err)
	}
	return out, nil
}

// parseMountLine decodes
//
//	36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
//
// where any number of optional fields precede the "-".
func parseMountLine(line string) (mountEntry, error) {
	fields := strings.Split(line, " ")
	sep := -1
	for i := 6; i < len(fields); i++ {
		if fields[i] == "-" {
			sep = i
			break
		}
	}
	if sep < 0 || len(fields) < sep+3 {
		return mountEntry{}, fmt.Errorf("no \" - fstype source\" in %q", line)
	}
	root, err := unescapeOctal(fields[3])
	if err != nil {
		return mountEntry{}, err
	}
	point, err := unescapeOctal(fields[4])
	if err != nil {
		return mountEntry{}, err
	}
	if root == "" || point == "" || fields[sep+1] == "" {
		return mountEntry{}, fmt.Errorf("empty root, mount point or type in %q", line)
	}
	e := mountEntry{root: root, point: point, fstype: fields[sep+1]}
	if len(fields) > sep+3 {
		e.super = strings.Split(fields[sep+3], ",")
	}
	return e, nil
}

// unescapeOctal undoes the kernel's \ooo escaping of space, tab, newline
// and backslash in mountinfo paths.
func unescapeOctal(s string) (string, error) {
	if !strings.Contains(s, `\`) {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			b.WriteByte(s[i])
			continue
		}
		if i+4 > len(s) {
			return "", fmt.Errorf("truncated escape in %q", s)
		}
		v, ok := octalByte(s[i+1 : i+4])
		if !ok {
			return "", fmt.Errorf("bad escape %q in %q", s[i:i+4], s)
		}
		b.WriteByte(v)
		i += 3
	}
	return b.String(), nil
}

func octalByte(d string) (byte, bool) {
	var v int
	for i := 0; i < len(d); i++ {
		if d[i] < '0' || d[i] > '7' {
			return 0, false
		}
		v = v*8 + int(d[i]-'0')
	}
	if v > 0xff {
		return 0, false
	}
	return byte(v), true
}
