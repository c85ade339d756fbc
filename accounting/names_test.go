package accounting

import (
	"errors"
	"path"
	"strings"
	"testing"
)

func TestCheckName(t *testing.T) {
	for _, ok := range []string{"web", "web.v2", "a_b-c@1:2", "ünïcode", strings.Repeat("x", maxNameLen), "cpuwatch", "tasks2"} {
		if err := checkName(ok); err != nil {
			t.Errorf("checkName(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"", ".", "..", "a/b", "/", "a b", "a\tb", "a\nb", "a\x00b", "a\x7fb",
		strings.Repeat("x", maxNameLen+1), "cgroup.procs", "memory.max", "cpu.weight", "pids.anything", "tasks", "release_agent"} {
		if err := checkName(bad); !errors.Is(err, ErrBadName) {
			t.Errorf("checkName(%q) = %v, want ErrBadName", bad, err)
		}
	}
}

// An accepted name is one directory below the parent, never a control file.
func FuzzCheckName(f *testing.F) {
	for _, s := range []string{"web", "..", "a/b", "cgroup.procs", "x\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		if checkName(name) != nil {
			return
		}
		if path.Join("/p", name) != "/p/"+name || strings.ContainsAny(name, " \t\n\x00") || len(name) > maxNameLen {
			t.Fatalf("accepted %q", name)
		}
		if prefix, _, ok := strings.Cut(name, "."); ok && (prefix == "cgroup" || prefix == "memory") {
			t.Fatalf("accepted control file name %q", name)
		}
	})
}

func TestCleanParent(t *testing.T) {
	for _, c := range []struct {
		in     string
		nested bool
		want   string
		err    bool
	}{
		{"", false, DefaultParent, false},
		{"migrate", false, "migrate", false},
		{"/migrate", false, "migrate", false},
		{"apps/migrate", false, "apps/migrate", false},
		{".", true, ".", false},
		{"/", true, ".", false},
		{".", false, "", true},
		{"/", false, "", true},
		{"a//b", false, "", true},
		{"a/../b", false, "", true},
		{"a/", false, "", true},
		{"../x", true, "", true},
		{"cgroup.procs", false, "", true},
	} {
		got, err := cleanParent(c.in, c.nested)
		if got != c.want || (err != nil) != c.err || (err != nil && !errors.Is(err, ErrBadName)) {
			t.Errorf("cleanParent(%q, %v) = %q, %v; want %q, error %v", c.in, c.nested, got, err, c.want, c.err)
		}
	}
}
