package supervisor

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeServices writes name → contents into a fresh directory.
func writeServices(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, src := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func names(svcs []*Service) []string {
	var out []string
	for _, s := range svcs {
		out = append(out, s.Name)
	}
	return out
}

func TestLoadServices(t *testing.T) {
	dir := writeServices(t, map[string]string{
		"web.toml":      "after = [\"db\"]\n" + minimalService,
		"db.toml":       minimalService,
		"other.toml":    "name = \"cache\"\n" + minimalService,
		"README":        "not a service",
		".web.toml.swp": "garbage",
		".hidden.toml":  "garbage",
		"web.toml~":     "garbage",
	})
	if err := os.Mkdir(filepath.Join(dir, "sub.toml"), 0o755); err != nil {
		t.Fatal(err)
	}
	before := openFDs(t)
	svcs, err := LoadServices(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(names(svcs), " "); got != "cache db web" {
		t.Errorf("loaded %q, want cache db web", got)
	}
	if svcs[0].File != filepath.Join(dir, "other.toml") {
		t.Errorf("cache's File is %q", svcs[0].File)
	}
	if after := openFDs(t); after != before {
		t.Errorf("%d descriptors open before, %d after", before, after)
	}
}

// TestLoadServicesBroken checks that any broken file loads nothing, and
// that every problem of every file is reported.
func TestLoadServicesBroken(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files map[string]string
		want  []string
	}{
		{"one broken file", map[string]string{"good.toml": minimalService, "bad.toml": "[exec]\nargz = 1\n"},
			[]string{"bad.toml:2: [exec] argz unknown key"}},
		{"all files reported", map[string]string{"a.toml": "x = 1\n" + minimalService, "b.toml": "[restart]\npolicy = \"x\"\n" + minimalService},
			[]string{"a.toml:1: x unknown key", `b.toml:2: [restart] policy "x"`}},
		{"duplicate name", map[string]string{"a.toml": minimalService, "b.toml": "name = \"a\"\n" + minimalService},
			[]string{`b.toml: name "a" already defined by `}},
		{"unknown after", map[string]string{"a.toml": "after = [\"nope\"]\n" + minimalService},
			[]string{`a.toml: after "nope": no such service`}},
		{"cycle", map[string]string{"a.toml": "after = [\"b\"]\n" + minimalService, "b.toml": "after = [\"c\"]\n" + minimalService,
			"c.toml": "after = [\"a\"]\n" + minimalService, "d.toml": minimalService}, []string{"cycle a → b → c → a"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			svcs, err := LoadServices(writeServices(t, tc.files))
			if svcs != nil {
				t.Errorf("loaded %v despite the error", names(svcs))
			}
			if !errors.Is(err, ErrBadConfig) {
				t.Fatalf("error %v does not wrap ErrBadConfig", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestLoadServicesNoDir(t *testing.T) {
	_, err := LoadServices(filepath.Join(t.TempDir(), "none"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("error %v, want one wrapping os.ErrNotExist", err)
	}
}

func TestLoadServicesUnreadable(t *testing.T) {
	dir := writeServices(t, map[string]string{"good.toml": minimalService})
	if err := os.Symlink(filepath.Join(dir, "gone"), filepath.Join(dir, "dangling.toml")); err != nil {
		t.Fatal(err)
	}
	svcs, err := LoadServices(dir)
	if svcs != nil || err == nil || !strings.Contains(err.Error(), "dangling.toml") {
		t.Errorf("got %v, %v; want no services and an error naming dangling.toml", names(svcs), err)
	}
}

func svc(name string, after ...string) *Service { return &Service{Name: name, After: after} }

func TestStartOrder(t *testing.T) {
	stages, err := StartOrder([]*Service{svc("web", "db", "cache"), svc("db"), svc("cache", "db"),
		svc("log"), svc("admin", "web", "gone")})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, st := range stages {
		got = append(got, strings.Join(names(st), ","))
	}
	if want := "db,log|cache|web|admin"; strings.Join(got, "|") != want {
		t.Errorf("stages %q, want %q", strings.Join(got, "|"), want)
	}
}

func TestStartOrderCycle(t *testing.T) {
	for _, tc := range []struct {
		svcs []*Service
		want string
	}{
		{[]*Service{svc("b", "a"), svc("a", "b")}, "cycle a → b → a"},
		{[]*Service{svc("z"), svc("y", "x"), svc("x", "w"), svc("w", "y"), svc("a", "x")}, "cycle w → y → x → w"},
	} {
		_, err := StartOrder(tc.svcs)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, ErrBadConfig) {
			t.Errorf("error %v, want %q wrapping ErrBadConfig", err, tc.want)
		}
	}
}

func TestDiffServices(t *testing.T) {
	load := func(files map[string]string) []*Service {
		svcs, err := LoadServices(writeServices(t, files))
		if err != nil {
			t.Fatal(err)
		}
		return svcs
	}
	old := load(map[string]string{
		"same.toml":    "[exec]\nargs = [\"/bin/a\"]\nenv = { A = \"1\", B = \"2\" }\n",
		"changed.toml": minimalService + "[restart]\npolicy = \"always\"\n",
		"gone.toml":    minimalService,
		"moved.toml":   "name = \"kept\"\n" + minimalService,
	})
	new := load(map[string]string{
		// Comments, layout and key order differ; the definition does not.
		"same.toml":    "# a comment\n[exec]\n  env.B = \"2\"\n  env.A = \"1\"\n  args = [ \"/bin/a\" ]   # trailing\n",
		"changed.toml": minimalService + "[restart]\npolicy = \"on-failure\"\n",
		"new.toml":     minimalService,
		"renamed.toml": "name = \"kept\"\n" + minimalService,
	})
	d := DiffServices(old, new)
	want := ServiceDiff{Added: []string{"new"}, Removed: []string{"gone"}, Changed: []string{"changed"}, Unchanged: []string{"kept", "same"}}
	if strings.Join(d.Added, ",") != "new" || strings.Join(d.Removed, ",") != "gone" ||
		strings.Join(d.Changed, ",") != "changed" || strings.Join(d.Unchanged, ",") != "kept,same" {
		t.Errorf("diff %+v, want %+v", d, want)
	}
	if d := DiffServices(nil, nil); d.Added != nil || d.Removed != nil || d.Changed != nil || d.Unchanged != nil {
		t.Errorf("empty diff %+v", d)
	}
}

// TestDiffServicesEveryField changes one key at a time and expects the
// service Changed: no part of the definition is left out of the compare.
func TestDiffServicesEveryField(t *testing.T) {
	base := "[exec]\nargs = [\"/bin/a\"]\n"
	for _, extra := range []string{
		"args = [\"/bin/b\"]", "env = [\"A=1\"]", "cwd = \"/srv\"", "user = 0\ngroup = 0\nsupplementary_groups = []",
		"[restart]\npolicy = \"always\"", "[restart]\ndelay = \"1s\"", "[restart]\nmax_delay = \"2m\"",
		"[restart]\nburst = 9", "[restart]\ninterval = \"1s\"", "[stop]\nsignal = \"INT\"", "[stop]\ntimeout = \"1s\"",
		"[resources]\nmemory_max = 100", "[resources]\npids_max = 3", "[resources]\ncpu_weight = 5", "[resources]\ncpu_quota = \"10%\"",
		"[continuations]\nexpiry = \"1s\"", "[[listen]]\naddress = \"tcp://:1\"", "fdstore_max = 1", "fdstore_preserve = true",
		"readiness = \"notify\"",
	} {
		src := base + extra + "\n"
		if strings.HasPrefix(extra, "args") {
			src = "[exec]\n" + extra + "\n"
		} else if !strings.HasPrefix(extra, "[") && !strings.Contains(extra, "user") && !strings.HasPrefix(extra, "env") && !strings.HasPrefix(extra, "cwd") {
			src = extra + "\n" + base
		}
		a, b := parse(t, base), parse(t, src)
		if d := DiffServices([]*Service{a}, []*Service{b}); len(d.Changed) != 1 {
			t.Errorf("%q: diff %+v, want web Changed", extra, d)
		}
	}
}
