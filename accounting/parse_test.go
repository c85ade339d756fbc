//go:build linux

package accounting

import (
	"bytes"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
)

const sampleMountinfo = `31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime shared:7 master:2 - cgroup cgroup rw,cpu,cpuacct
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 /lxc/c1 /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
50 23 8:1 /with\040space /mnt/a\134b rw - ext4 /dev/sda1 rw
`

func TestParseMountinfo(t *testing.T) {
	got, err := parseMountinfo(strings.NewReader(sampleMountinfo))
	if err != nil {
		t.Fatal(err)
	}
	want := []mountEntry{
		{root: "/", point: "/sys/fs/cgroup", fstype: "tmpfs", super: []string{"rw", "mode=755"}},
		{root: "/", point: "/sys/fs/cgroup/cpu,cpuacct", fstype: "cgroup", super: []string{"rw", "cpu", "cpuacct"}},
		{root: "/", point: "/sys/fs/cgroup/systemd", fstype: "cgroup", super: []string{"rw", "name=systemd"}},
		{root: "/lxc/c1", point: "/sys/fs/cgroup/unified", fstype: "cgroup2", super: []string{"rw"}},
		{root: "/with space", point: `/mnt/a\b`, fstype: "ext4", super: []string{"rw"}},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d entries, want %d", len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.root != w.root || g.point != w.point || g.fstype != w.fstype || !slices.Equal(g.super, w.super) {
			t.Errorf("entry %d = %+v, want %+v", i, g, w)
		}
	}
	if mountRoot(got, "/sys/fs/cgroup/unified") != "/lxc/c1" || mountRoot(got, "/mnt/a\\b") != "" {
		t.Errorf("mountRoot picks the wrong entry")
	}
}

func TestParseMountinfoRejects(t *testing.T) {
	for _, line := range []string{
		"",
		"31 23 0:28 / /sys/fs/cgroup rw,relatime tmpfs tmpfs rw",
		"31 23 0:28 / /x rw - ",
		`31 23 0:28 /\04 /x rw - tmpfs t rw`,
		`31 23 0:28 /\999 /x rw - tmpfs t rw`,
		"1 2 3 4 5 6 - x",
	} {
		if _, err := parseMountinfo(strings.NewReader(line + "\n")); err == nil && line != "" {
			t.Errorf("parseMountinfo(%q) accepted it", line)
		}
	}
}

// The machine's own mountinfo parses.
func TestParseMountinfoSelf(t *testing.T) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		t.Skip(err)
	}
	defer f.Close()
	mounts, err := parseMountinfo(f)
	if err != nil || len(mounts) == 0 {
		t.Fatalf("parse own mountinfo: %d entries, %v", len(mounts), err)
	}
}

func FuzzParseMountinfo(f *testing.F) {
	f.Add([]byte(sampleMountinfo))
	f.Add([]byte(`1 2 3 \134 \040 o - t s o` + "\n"))
	f.Add([]byte("1 2 3 4 5 6 - -\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		mounts, err := parseMountinfo(bytes.NewReader(b))
		if err != nil {
			return
		}
		for _, m := range mounts {
			if m.root == "" || m.point == "" || m.fstype == "" {
				t.Fatalf("accepted an entry with an empty field: %+v", m)
			}
		}
	})
}

func TestParseKeyed(t *testing.T) {
	kv, err := parseKeyed([]byte("populated 1\nfrozen 0\n"))
	if err != nil || kv["populated"] != 1 || kv["frozen"] != 0 || len(kv) != 2 {
		t.Fatalf("parseKeyed = %v, %v", kv, err)
	}
	for _, bad := range []string{"populated\n", "populated x\n", "a 1 2\n", "a 1\na 2\n", "a -1\n"} {
		if _, err := parseKeyed([]byte(bad)); err == nil {
			t.Errorf("parseKeyed(%q) accepted it", bad)
		}
	}
}

func FuzzParseKeyed(f *testing.F) {
	f.Add([]byte("populated 1\nfrozen 0\n"))
	f.Add([]byte("low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		kv, err := parseKeyed(b)
		if err != nil {
			return
		}
		for k := range kv {
			if k == "" || strings.ContainsAny(k, " \t\n") {
				t.Fatalf("accepted key %q", k)
			}
		}
	})
}

func TestParseProcs(t *testing.T) {
	pids, err := parseProcs([]byte("12\n7\n"))
	if err != nil || !slices.Equal(pids, []int{12, 7}) {
		t.Fatalf("parseProcs = %v, %v", pids, err)
	}
	if pids, err := parseProcs(nil); err != nil || len(pids) != 0 {
		t.Fatalf("parseProcs(empty) = %v, %v", pids, err)
	}
	for _, bad := range []string{"0\n", "-3\n", "x\n", "1 2\n", "99999999999\n"} {
		if _, err := parseProcs([]byte(bad)); err == nil {
			t.Errorf("parseProcs(%q) accepted it", bad)
		}
	}
}

func FuzzParseProcs(f *testing.F) {
	f.Add([]byte("12\n7\n"))
	f.Add([]byte("\n\n1"))
	f.Fuzz(func(t *testing.T, b []byte) {
		pids, err := parseProcs(b)
		if err != nil {
			return
		}
		for _, p := range pids {
			if p <= 0 || p > math.MaxInt32 {
				t.Fatalf("accepted pid %d", p)
			}
		}
	})
}

func TestParseCPUMax(t *testing.T) {
	for in, want := range map[string]string{"max 100000\n": "max 100000", "50000 200000": "50000 200000"} {
		q, p, err := parseCPUMax(in)
		if err != nil || q+" "+strconv.FormatUint(p, 10) != want {
			t.Errorf("parseCPUMax(%q) = %q %d %v", in, q, p, err)
		}
	}
	for _, bad := range []string{"", "max", "0 100000", "-1 100000", "max 0", "max x", "1 2 3"} {
		if _, _, err := parseCPUMax(bad); err == nil {
			t.Errorf("parseCPUMax(%q) accepted it", bad)
		}
	}
}

func FuzzParseCPUMax(f *testing.F) {
	f.Add("max 100000\n")
	f.Add("50000 200000")
	f.Fuzz(func(t *testing.T, s string) {
		q, p, err := parseCPUMax(s)
		if err != nil {
			return
		}
		if v, perr := strconv.ParseInt(q, 10, 64); p == 0 || (q != "max" && (perr != nil || v <= 0)) {
			t.Fatalf("accepted quota %q period %d", q, p)
		}
	})
}

func TestParseLimit(t *testing.T) {
	for in, want := range map[string]uint64{"max\n": Unlimited, "0": 0, "100\n": 100} {
		if got, err := parseLimit(in); err != nil || got != want {
			t.Errorf("parseLimit(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "-1", "maxx", "1 2"} {
		if _, err := parseLimit(bad); err == nil {
			t.Errorf("parseLimit(%q) accepted it", bad)
		}
	}
}
