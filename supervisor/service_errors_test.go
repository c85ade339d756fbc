package supervisor

import (
	"errors"
	"strings"
	"testing"
)

// TestParseServiceErrors feeds one mistake at a time and checks the error
// names the file, the key and what is wanted.
func TestParseServiceErrors(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{"nme = \"x\"\n" + minimalService, "web.toml:1: nme unknown key"},
		{minimalService + "argz = 1\n", "web.toml:3: [exec] argz unknown key"},
		{minimalService + "[restart]\nPolicy = \"always\"\n", "[restart] Policy unknown key (keys are case-sensitive: policy)"},
		{"name = 3\n" + minimalService, "web.toml:1: name want a string, not a TOML integer"},
		{"[exec]\nargs = \"/bin/true\"\n", "web.toml:2: [exec] args want an array of strings, not a TOML string"},
		{minimalService + "args = [\"x\"]\n", "web.toml:3: key args is already defined"},
		{"exec = 1\n", "web.toml:1: exec want a table, not a TOML integer"},
		{minimalService + "env.A.B = \"1\"\n", "[exec] env A: want a string, not a table"},
		{minimalService + "supplementary_groups = 1\n", "web.toml:3: [exec] supplementary_groups want an array, not a TOML integer"},
		{"[exec\n", "web.toml:1"},
		{"", "[exec] args missing"},
		{"[exec]\nargs = []\n", "[exec] args missing"},
		{"[exec]\nargs = [\"\"]\n", "[exec] args the command is empty"},
		{"[exec]\nargs = [\"a\\u0000\"]\n", "argument 0 holds a NUL byte"},
		{`name = "a/b"` + "\n" + minimalService, `name "a/b": want 1 to 255 bytes`},
		{`name = "supervisor"` + "\n" + minimalService, `name "supervisor"`},
		{`name = ".."` + "\n" + minimalService, `name ".."`},
		{minimalService + "env = 3\n", "[exec] env want a table or an array"},
		{minimalService + "env = [\"NOEQUALS\"]\n", `[exec] env "NOEQUALS": want KEY=value`},
		{minimalService + "env = [\"=v\"]\n", `[exec] env "=v": want KEY=value`},
		{minimalService + "env = [\"A=1\", \"A=2\"]\n", "[exec] env A set twice"},
		{minimalService + "env = [1]\n", "[exec] env 1: want a KEY=value string"},
		{minimalService + "env = { A = 1 }\n", "[exec] env A: want a string"},
		{minimalService + "cwd = \"srv\"\n", `[exec] cwd "srv": want an absolute path`},
		{minimalService + "user = \"no-such-user-xyz\"\n", `[exec] user "no-such-user-xyz": not found`},
		{minimalService + "user = -1\n", "[exec] user -1: want an id"},
		{minimalService + "user = 4242\n", "[exec] group missing, and user 4242 is not in the user database"},
		{minimalService + "user = true\n", "[exec] user want a name or a numeric id"},
		{minimalService + "group = 0\n", "[exec] group needs [exec] user"},
		{minimalService + "user = 0\ngroup = \"no-such-group-xyz\"\n", `[exec] group "no-such-group-xyz": not found`},
		{minimalService + "user = 0\nsupplementary_groups = [\"no-such-group-xyz\"]\n", `[exec] supplementary_groups "no-such-group-xyz": not found`},
		{minimalService + "[restart]\npolicy = \"sometimes\"\n", `[restart] policy "sometimes": want no, on-failure or always`},
		{minimalService + "[restart]\ndelay = \"5\"\n", `[restart] delay "5": want a duration like 5s`},
		{minimalService + "[restart]\ndelay = \"-1s\"\n", `[restart] delay "-1s": want a duration above zero`},
		{minimalService + "[restart]\ndelay = \"10s\"\nmax_delay = \"1s\"\n", "[restart] max_delay 1s is below delay 10s"},
		{minimalService + "[restart]\nmax_delay = \"0s\"\n", `[restart] max_delay "0s": want a duration above zero`},
		{minimalService + "[restart]\nburst = 0\n", "[restart] burst 0: want 1 to"},
		{minimalService + "[restart]\ninterval = \"x\"\n", `[restart] interval "x"`},
		{minimalService + "[stop]\nsignal = \"SIGNOPE\"\n", `[stop] signal "SIGNOPE": want a signal name`},
		{minimalService + "[stop]\nsignal = 0\n", "[stop] signal 0: want a signal number 1 to 64"},
		{minimalService + "[stop]\nsignal = 1.5\n", "[stop] signal want a signal name or number"},
		{minimalService + "[stop]\ntimeout = \"0s\"\n", `[stop] timeout "0s": want a duration above zero`},
		{`after = ["web"]` + "\n" + minimalService, "after names the service itself"},
		{`after = ["a/b"]` + "\n" + minimalService, `after "a/b": not a service name`},
		{`after = "db"` + "\n" + minimalService, "web.toml:1: after want an array of strings"},
		{minimalService + "[resources]\nmemory_max = \"512Q\"\n", `[resources] memory_max "512Q": want bytes`},
		{minimalService + "[resources]\nmemory_max = \"99999999999T\"\n", `[resources] memory_max "99999999999T"`},
		{minimalService + "[resources]\nmemory_max = 0\n", "[resources] memory_max 0: want 1 byte or more"},
		{minimalService + "[resources]\nmemory_max = 1.5\n", "[resources] memory_max want an integer or a string like 512M, not a float"},
		{minimalService + "[resources]\npids_max = 0\n", "[resources] pids_max 0: want 1 or more"},
		{minimalService + "[resources]\ncpu_weight = 0\n", "[resources] cpu_weight 0: want 1 to 10000"},
		{minimalService + "[resources]\ncpu_weight = 10001\n", "[resources] cpu_weight 10001: want 1 to 10000"},
		{minimalService + "[resources]\ncpu_quota = \"0%\"\n", `[resources] cpu_quota "0%": want a percentage`},
		{minimalService + "[resources]\ncpu_quota = \"0.5%\"\n", `[resources] cpu_quota "0.5%"`},
		{minimalService + "[resources]\ncpu_quota = \"50\"\n", `[resources] cpu_quota "50"`},
		{minimalService + "[resources]\ncpu_quota = \"500/100000\"\n", `[resources] cpu_quota "500/100000"`},
		{minimalService + "[resources]\ncpu_quota = \"5000/2000000\"\n", `[resources] cpu_quota "5000/2000000"`},
		{minimalService + "[continuations]\nexpiry = \"0s\"\n", `[continuations] expiry "0s": want a duration above zero`},
		{`readiness = "ready"` + "\n" + minimalService, `readiness "ready": want exec or notify`},
		{`fdstore_max = -1` + "\n" + minimalService, "fdstore_max -1: want 0 to 4096"},
		{`fdstore_preserve = "yes"` + "\n" + minimalService, "web.toml:1: fdstore_preserve want true or false, not a TOML string"},
		{minimalService + "[[listen]]\naddress = \"http://x:1\"\n", `[[listen]] 1 address "http://x:1": want tcp://HOST:PORT`},
		{minimalService + "[[listen]]\n", `[[listen]] 1 address "": want`},
		{minimalService + "[[listen]]\naddress = \"tcp://x\"\n", `[[listen]] 1 address "tcp://x": want HOST:PORT`},
		{minimalService + "[[listen]]\naddress = \"tcp://:0\"\n", `[[listen]] 1 address "tcp://:0"`},
		{minimalService + "[[listen]]\naddress = \"udp://:70000\"\n", `[[listen]] 1 address "udp://:70000"`},
		{minimalService + "[[listen]]\naddress = \"unix:rel.sock\"\n", `[[listen]] 1 address "unix:rel.sock": want an absolute path`},
		{minimalService + "[[listen]]\naddress = \"unixpacket:/" + strings.Repeat("a", 107) + "\"\n", "at most 107 bytes"},
		{minimalService + "[[listen]]\naddress = \"tcp://:1\"\n[[listen]]\naddress = \"tcp://:1\"\n", `[[listen]] 2 address "tcp://:1" listed twice`},
		{minimalService + "[[listen]]\naddress = \"tcp://:1\"\nname = \"a:b\"\n", `[[listen]] 1 name "a:b": want printable ASCII but ':'`},
		{minimalService + "[[listen]]\naddress = \"tcp://:1\"\nname = \"\"\n", `[[listen]] 1 name "": want 1 to 255 bytes`},
		{minimalService + "[[listen]]\naddress = \"tcp://:1\"\nname = \"" + strings.Repeat("n", 256) + "\"\n", "want 1 to 255 bytes"},
		{minimalService + "[[listen]]\naddress = \"tcp://:1\"\nname = \"a\\tb\"\n", `[[listen]] 1 name "a\tb"`},
		{`name = "wéb"` + "\n" + minimalService + "[[listen]]\naddress = \"tcp://:1\"\n", "[[listen]] 1 name missing, and the service's name is no fd name"},
		{minimalService + "[[listen]]\naddress = \"udp://:1\"\naccept = true\n", "[[listen]] 1 accept needs a stream or seqpacket socket"},
		{minimalService + "[[listen]]\naddress = \"tcp://:1\"\nmax_connections = 3\n", "[[listen]] 1 max_connections needs accept = true"},
		{minimalService + "[[listen]]\naddress = \"tcp://:1\"\naccept = true\nmax_connections = 0\n", "[[listen]] 1 max_connections 0: want 1 to"},
		{minimalService + "[[listen]]\naddress = \"tcp://:1\"\naccept = true\n[[listen]]\naddress = \"tcp://:2\"\n", "accept set on 1 of 2 sockets"},
		{"readiness = \"notify\"\n" + minimalService + "[[listen]]\naddress = \"tcp://:1\"\naccept = true\n", "readiness notify: a service whose sockets accept"},
		{"watchdog = \"1s\"\n" + minimalService + "[[listen]]\naddress = \"tcp://:1\"\naccept = true\n", "watchdog a service whose sockets accept"},
		{minimalService + "[restart]\npolicy = \"always\"\n[[listen]]\naddress = \"tcp://:1\"\naccept = true\n", "[restart] policy always: a service whose sockets accept"},
		{"watchdog = \"soon\"\n" + minimalService, "watchdog \"soon\": want a duration"},
		{"start_timeout = \"0s\"\n" + minimalService, "start_timeout \"0s\": want a duration above zero"},
		{minimalService + "[[listen]]\naddress = \"tcp://:1\"\nadress = \"x\"\n", "[listen] adress unknown key"},
	} {
		_, err := ParseService("/etc/migrate/web.toml", []byte(tc.src))
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "/etc/migrate/web.toml") {
			t.Errorf("%q:\n got error %v\nwant one containing %q", tc.src, err, tc.want)
		}
		if !errors.Is(err, ErrBadConfig) {
			t.Errorf("%q: error %v does not wrap ErrBadConfig", tc.src, err)
		}
	}
}

// TestParseServiceReportsEveryProblem checks that one file's problems are
// all reported, not only the first.
func TestParseServiceReportsEveryProblem(t *testing.T) {
	src := "readiness = \"soon\"\n[exec]\nargs = [\"x\"]\ncwd = \"rel\"\n[restart]\npolicy = \"maybe\"\n[resources]\npids_max = 0\n"
	_, err := ParseService("web.toml", []byte(src))
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"readiness", "[exec] cwd", "[restart] policy", "[resources] pids_max"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not report %s", err, want)
		}
	}
	src = "nope = 1\n[exec]\nargs = [\"x\"]\nalso = 2\n"
	_, err = ParseService("web.toml", []byte(src))
	if err == nil || !strings.Contains(err.Error(), "web.toml:1: nope") || !strings.Contains(err.Error(), "web.toml:4: [exec] also") {
		t.Errorf("two unknown keys: error %v", err)
	}
}

// TestParseServiceErrorLines checks the line a validation error names,
// whatever TOML shape set the key.
func TestParseServiceErrorLines(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{"# c\n\nreadiness = \"x\"\n" + minimalService, "web.toml:3: readiness"},
		{minimalService + "\n[restart]\n# c\npolicy = \"x\"\n", "web.toml:6: [restart] policy"},
		{minimalService + "restart.policy = \"x\"\n", "web.toml:3: [exec.restart] policy unknown key"},
		{"restart.policy = \"x\"\n" + minimalService, "web.toml:1: [restart] policy"},
		{"stop = { signal = \"NOPE\" }\n" + minimalService, "web.toml:1: [stop] signal"},
		{"[exec]\ncwd = \"/\"\n", "web.toml:1: [exec] args missing"},
		{minimalService + "[[listen]]\naddress = \"tcp://:1\"\n\n[[listen]]\naddress = \"tcp://:2\"\nname = \"a:b\"\n", "web.toml:8: [[listen]] 2 name"},
		{minimalService + "[[listen]]\naddress = \"tcp://:1\"\n[[listen]]\nname = \"b\"\n", "web.toml:5: [[listen]] 2 address"},
		{"", "web.toml: [exec] args missing"},
	} {
		_, err := ParseService("web.toml", []byte(tc.src))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q:\n got error %v\nwant one containing %q", tc.src, err, tc.want)
		}
	}
}
