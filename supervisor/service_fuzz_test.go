package supervisor

import (
	"errors"
	"testing"
)

// FuzzParseService feeds the single-file parser arbitrary bytes: it must
// not panic, a rejected file's error must be a ServiceError wrapping
// ErrBadConfig, and an accepted service must parse again to an equal one
// and convert to an AppSpec.
func FuzzParseService(f *testing.F) {
	f.Add([]byte(docExample(f)))
	for _, seed := range []string{
		minimalService,
		"name = \"x\"\nafter = [\"a\", \"a\"]\nreadiness = \"notify\"\nfdstore_max = 3\n" + minimalService,
		"[exec]\nargs = [\"a\"]\nenv = { A = \"1\" }\nuser = 0\n[restart]\npolicy = \"always\"\ndelay = \"1s\"\n",
		"[exec]\nargs = [\"a\"]\nenv = [\"A=1\", \"A=2\"]\n[stop]\nsignal = 15\ntimeout = \"1m\"\n",
		"[exec]\nargs = [\"a\"]\n[resources]\nmemory_max = \"1G\"\npids_max = 1\ncpu_weight = 1\ncpu_quota = \"1/1\"\n",
		"[exec]\nargs = [\"a\"]\n[[listen]]\naddress = \"unix:/a\"\naccept = true\nmax_connections = 1\n[[listen]]\naddress = \"udp://:1\"\n",
		"[exec]\nargs = [\"a\"]\n[continuations]\nexpiry = \"1h\"\nExpiry = \"2h\"\n",
		"[[exec]]\n", "exec = []", "[exec\n", "\x00",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ParseService("fuzz.toml", data)
		if err != nil {
			var se *ServiceError
			if !errors.As(err, &se) || !errors.Is(err, ErrBadConfig) {
				t.Fatalf("error %v: not a ServiceError wrapping ErrBadConfig", err)
			}
			return
		}
		again, err := ParseService("fuzz.toml", data)
		if err != nil || !again.Equal(s) {
			t.Fatalf("accepted once, then %v / %+v", err, again)
		}
		spec := s.AppSpec()
		if spec.Name != s.Name || len(spec.Args) == 0 || checkAppName(spec.Name) != nil {
			t.Fatalf("AppSpec %+v of an accepted service", spec)
		}
		if _, err := StartOrder([]*Service{s}); err != nil {
			t.Fatalf("StartOrder of one accepted service: %v", err)
		}
	})
}
