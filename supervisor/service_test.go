package supervisor

import (
	"errors"
	"os"
	"os/user"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/containerd/cgroups/v3/cgroup2"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

const minimalService = "[exec]\nargs = [\"/bin/true\"]\n"

func parse(t *testing.T, src string) *Service {
	t.Helper()
	s, err := ParseService("/etc/migrate/web.toml", []byte(src))
	if err != nil {
		t.Fatalf("ParseService:\n%s\nerror: %v", src, err)
	}
	return s
}

func TestParseServiceDefaults(t *testing.T) {
	s := parse(t, minimalService)
	want := &Service{Name: "web", File: "/etc/migrate/web.toml", Args: []string{"/bin/true"}, Cwd: "/",
		Restart: RestartPolicy{Policy: RestartNo, Delay: DefaultRestartDelay, MaxDelay: DefaultRestartMaxDelay,
			Burst: DefaultStartBurst, Interval: DefaultStartInterval},
		StopSignal: unix.SIGTERM, Readiness: ReadyExec}
	if !reflect.DeepEqual(s, want) {
		t.Errorf("got  %+v\nwant %+v", s, want)
	}
}

// TestParseServiceKeys sets each key and checks the field it fills.
func TestParseServiceKeys(t *testing.T) {
	for _, tc := range []struct {
		name, src string
		got       func(*Service) any
		want      any
	}{
		{"name", `name = "api"`, func(s *Service) any { return s.Name }, "api"},
		{"args", `[exec]` + "\n" + `args = ["web", "-v", ""]` + "\n#args", func(s *Service) any { return s.Args }, []string{"web", "-v", ""}},
		{"env table sorted", "[exec.env]\nB = \"2\"\nA = \"1=x\"", func(s *Service) any { return s.Env }, []string{"A=1=x", "B=2"}},
		{"env array in order", `[exec]` + "\n" + `env = ["B=2", "A="]`, func(s *Service) any { return s.Env }, []string{"B=2", "A="}},
		{"cwd", "[exec]\ncwd = \"/srv\"", func(s *Service) any { return s.Cwd }, "/srv"},
		{"user by name", "[exec]\nuser = \"root\"\nsupplementary_groups = []", func(s *Service) any { return *s.User }, specs.User{}},
		{"user by id", "[exec]\nuser = 4242\ngroup = 4343\nsupplementary_groups = [0, \"root\"]", func(s *Service) any { return *s.User },
			specs.User{UID: 4242, GID: 4343, AdditionalGids: []uint32{0, 0}}},
		{"policy", "[restart]\npolicy = \"always\"", func(s *Service) any { return s.Restart.Policy }, RestartAlways},
		{"delays", "[restart]\ndelay = \"2s\"\nmax_delay = \"1m30s\"", func(s *Service) any { return [2]time.Duration{s.Restart.Delay, s.Restart.MaxDelay} },
			[2]time.Duration{2 * time.Second, 90 * time.Second}},
		{"long delay lifts the default cap", "[restart]\ndelay = \"5m\"", func(s *Service) any { return s.Restart.MaxDelay }, 5 * time.Minute},
		{"start limit", "[restart]\nburst = 3\ninterval = \"0s\"", func(s *Service) any { return [2]any{s.Restart.Burst, s.Restart.Interval} }, [2]any{3, time.Duration(0)}},
		{"signal name", "[stop]\nsignal = \"SIGINT\"", func(s *Service) any { return s.StopSignal }, unix.SIGINT},
		{"signal short name", "[stop]\nsignal = \"hup\"", func(s *Service) any { return s.StopSignal }, unix.SIGHUP},
		{"signal number", "[stop]\nsignal = 10", func(s *Service) any { return s.StopSignal }, unix.SIGUSR1},
		{"stop timeout", "[stop]\ntimeout = \"250ms\"", func(s *Service) any { return s.StopTimeout }, 250 * time.Millisecond},
		{"after sorted unique", `after = ["db", "cache", "db"]`, func(s *Service) any { return s.After }, []string{"cache", "db"}},
		{"memory bytes", "[resources]\nmemory_max = 1000", func(s *Service) any { return *s.Resources.Memory.Limit }, int64(1000)},
		{"memory suffix", "[resources]\nmemory_max = \"512M\"", func(s *Service) any { return *s.Resources.Memory.Limit }, int64(512 << 20)},
		{"memory G", "[resources]\nmemory_max = \"1G\"", func(s *Service) any { return *s.Resources.Memory.Limit }, int64(1 << 30)},
		{"pids", "[resources]\npids_max = 64", func(s *Service) any { return *s.Resources.Pids.Limit }, int64(64)},
		{"cpu percent", "[resources]\ncpu_quota = \"50%\"", func(s *Service) any { return [2]any{*s.Resources.CPU.Quota, *s.Resources.CPU.Period} }, [2]any{int64(50000), uint64(100000)}},
		{"cpu quota/period", "[resources]\ncpu_quota = \"20000/50000\"", func(s *Service) any { return [2]any{*s.Resources.CPU.Quota, *s.Resources.CPU.Period} }, [2]any{int64(20000), uint64(50000)}},
		{"cpu weight", "[resources]\ncpu_weight = 100", func(s *Service) any { return cgroup2.ConvertCPUSharesToCgroupV2Value(*s.Resources.CPU.Shares) }, uint64(100)},
		{"empty resources", "[resources]", func(s *Service) any { return s.Resources == nil }, true},
		{"expiry", "[continuations]\nexpiry = \"2h\"", func(s *Service) any { return s.Expiry }, 2 * time.Hour},
		{"readiness", `readiness = "notify"`, func(s *Service) any { return s.Readiness }, ReadyNotify},
		{"listen", "[[listen]]\naddress = \"udp://[::1]:53\"\n[[listen]]\naddress = \"unixpacket:/run/x\"\nname = \"ctl\"",
			func(s *Service) any { return s.Listen },
			[]ListenSpec{{Address: "udp://[::1]:53", Name: "web"}, {Address: "unixpacket:/run/x", Name: "ctl"}}},
		{"max connections", "[[listen]]\naddress = \"tcp://:1\"\naccept = true\nmax_connections = 2",
			func(s *Service) any { return s.Listen[0].MaxConnections }, 2},
		{"fdstore", "fdstore_max = 8\nfdstore_preserve = true", func(s *Service) any { return [2]any{s.FDStoreMax, s.FDStorePreserve} }, [2]any{8, true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := tc.src + "\n"
			switch {
			case strings.Contains(src, "#args"):
			case !strings.Contains(src, "[exec]"):
				src += minimalService
			default:
				src = strings.Replace(src, "[exec]\n", minimalService, 1)
			}
			if got := tc.got(parse(t, src)); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %#v, want %#v", got, tc.want)
			}
		})
	}
}

// TestParseServiceUserDatabase checks that a user by name or known id gets
// its primary group and, without supplementary_groups, its groups from the
// group database; a group by name resolves too.
func TestParseServiceUserDatabase(t *testing.T) {
	u, err := user.Lookup("nobody")
	if err != nil {
		t.Skipf("no user nobody to test with: %v", err)
	}
	uid, _ := strconv.ParseUint(u.Uid, 10, 32)
	gid, _ := strconv.ParseUint(u.Gid, 10, 32)
	g, err := user.LookupGroupId(u.Gid)
	if err != nil {
		t.Skipf("nobody's group %s is not in the group database: %v", u.Gid, err)
	}
	ids, err := u.GroupIds()
	if err != nil {
		t.Fatal(err)
	}
	var groups []uint32
	for _, id := range ids {
		n, _ := strconv.ParseUint(id, 10, 32)
		groups = append(groups, uint32(n))
	}
	want := specs.User{UID: uint32(uid), GID: uint32(gid), AdditionalGids: groups}
	for _, src := range []string{
		"[exec]\nuser = \"nobody\"\n",
		"[exec]\nuser = " + u.Uid + "\n",
		"[exec]\nuser = \"nobody\"\ngroup = \"" + g.Name + "\"\n",
	} {
		s := parse(t, strings.Replace(src, "[exec]\n", minimalService, 1))
		if !reflect.DeepEqual(*s.User, want) {
			t.Errorf("%q: user %+v, want %+v", src, *s.User, want)
		}
	}
}

// TestCPUWeightRoundTrip proves every cpu_weight reaches cpu.weight
// unchanged through containerd's conversion, which accounting applies.
func TestCPUWeightRoundTrip(t *testing.T) {
	for w := uint64(1); w <= 10000; w++ {
		if got := cgroup2.ConvertCPUSharesToCgroupV2Value(weightToShares(w)); got != w {
			t.Fatalf("weight %d: shares %d convert back to %d", w, weightToShares(w), got)
		}
	}
}

func TestServiceAppSpec(t *testing.T) {
	s := parse(t, "readiness = \"notify\"\nwatchdog = \"3s\"\nstart_timeout = \"7s\"\nfdstore_max = 4\n"+
		"[exec]\nargs = [\"/bin/web\"]\nenv = [\"A=1\"]\ncwd = \"/srv\"\nuser = 4242\ngroup = 4343\n"+
		"[resources]\npids_max = 3\n[continuations]\nexpiry = \"1m\"\n"+
		"[restart]\npolicy = \"always\"\n[stop]\nsignal = \"INT\"\ntimeout = \"2s\"\n"+
		"[[listen]]\naddress = \"tcp://:80\"\n[[listen]]\naddress = \"udp://:81\"\nname = \"dns\"\n")
	spec := s.AppSpec()
	want := AppSpec{Name: "web", Args: []string{"/bin/web"}, Env: []string{"A=1"}, Cwd: "/srv",
		User: &specs.User{UID: 4242, GID: 4343}, Stdio: [3]int{-1, -1, -1},
		Listen:  []ListenSpec{{Address: "tcp://:80", Name: "web"}, {Address: "udp://:81", Name: "dns"}},
		Capture: true, Resources: s.Resources, Expiry: time.Minute, Readiness: ReadyNotify, Watchdog: 3 * time.Second,
		StartTimeout: 7 * time.Second, FDStoreMax: 4, Restart: DefaultRestart(RestartAlways), StopSignal: unix.SIGINT,
		StopTimeout: 2 * time.Second, File: s.File}
	if !reflect.DeepEqual(spec, want) {
		t.Fatalf("got  %+v\nwant %+v", spec, want)
	}
	spec.Args[0], spec.User.UID = "x", 0
	if s.Args[0] != "/bin/web" || s.User.UID != 4242 {
		t.Error("AppSpec shares its slices or user with the service")
	}
}

// TestParseServiceDocExample parses the complete example of
// docs/services.md, so the documentation cannot drift from the parser.
func TestParseServiceDocExample(t *testing.T) {
	src := docExample(t)
	s := parse(t, src)
	if s.Name != "web" || s.Readiness != ReadyNotify || s.Restart.Policy != RestartOnFailure ||
		*s.Resources.Memory.Limit != 512<<20 || len(s.Listen) != 2 || s.Listen[1].Name != "admin" ||
		s.User == nil || s.StopTimeout != 10*time.Second || s.Expiry != 2*time.Hour {
		t.Errorf("example parsed into %+v", s)
	}
	// Every key the format has appears in the complete example.
	for _, key := range []string{"name", "after", "readiness", "fdstore_max", "fdstore_preserve", "args", "env",
		"cwd", "user", "supplementary_groups", "policy", "delay", "max_delay", "burst", "interval", "signal",
		"timeout", "memory_max", "pids_max", "cpu_weight", "cpu_quota", "expiry", "address", "start_timeout", "watchdog"} {
		if !strings.Contains(src, "\n"+key+" = ") {
			t.Errorf("the complete example lacks %s", key)
		}
	}
}

func TestServiceErrorType(t *testing.T) {
	_, err := ParseService("/x/web.toml", []byte("[restart]\npolicy = \"sometimes\"\n"+minimalService))
	var se *ServiceError
	if !errors.As(err, &se) || !errors.Is(err, ErrBadConfig) {
		t.Fatalf("error %v: want a *ServiceError wrapping ErrBadConfig", err)
	}
	if want := `/x/web.toml:2: [restart] policy "sometimes": want no, on-failure or always`; err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
}

// docExample returns the complete example of docs/services.md.
func docExample(t testing.TB) string {
	t.Helper()
	doc, err := os.ReadFile("../docs/services.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(doc), "## A complete example")
	_, rest, ok2 := strings.Cut(rest, "```toml\n")
	src, _, ok3 := strings.Cut(rest, "```")
	if !ok || !ok2 || !ok3 {
		t.Fatal("docs/services.md: no toml block under \"## A complete example\"")
	}
	return src
}
