package supervisor

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// checker collects every problem of one file instead of stopping at the
// first.
type checker struct {
	file  string
	lines map[string]int // keyLines
	errs  []error
}

func (c *checker) fail(key, format string, args ...any) {
	c.errs = append(c.errs, &ServiceError{File: c.file, Line: lineOf(c.lines, key), Key: key, Msg: fmt.Sprintf(format, args...)})
}

func (c *checker) service(f *serviceFile, base string) *Service {
	s := &Service{Name: base, Readiness: ReadyExec, StopSignal: unix.SIGTERM, FDStorePreserve: f.FDStorePreserve}
	if f.Name != nil {
		s.Name = *f.Name
	}
	if err := checkAppName(s.Name); err != nil {
		c.fail("name", "%q: want 1 to 255 bytes without / or NUL, not . or .. or %q", s.Name, "supervisor")
	}
	c.exec(s, f.Exec)
	c.restart(s, &f.Restart)
	c.stop(s, &f.Stop)
	s.After = c.after(s.Name, f.After)
	s.Resources = c.resources(f.Resources)
	s.Expiry = c.duration("[continuations] expiry", f.Continuations.Expiry, 0, false)
	if r := f.Readiness; r != nil {
		if *r != ReadyExec && *r != ReadyNotify {
			c.fail("readiness", "%q: want exec or notify", *r)
		}
		s.Readiness = *r
	}
	s.StartTimeout = c.duration("start_timeout", f.StartTimeout, 0, false)
	s.Watchdog = c.duration("watchdog", f.Watchdog, 0, true)
	s.Listen = c.listen(s.Name, f.Listen)
	c.acceptRules(s)
	if n := f.FDStoreMax; n != nil {
		if *n < 0 || *n > 4096 {
			c.fail("fdstore_max", "%d: want 0 to 4096", *n)
		}
		s.FDStoreMax = int(*n)
	}
	return s
}

func (c *checker) exec(s *Service, e *execSection) {
	if e == nil || len(e.Args) == 0 {
		c.fail("[exec] args", "missing: want the command and its arguments")
		return
	}
	if e.Args[0] == "" {
		c.fail("[exec] args", "the command is empty")
	}
	for i, a := range e.Args {
		if strings.IndexByte(a, 0) >= 0 {
			c.fail("[exec] args", "argument %d holds a NUL byte", i)
		}
	}
	s.Args = e.Args
	s.Env = c.env(e.Env)
	if e.Cwd == "" {
		e.Cwd = "/" // as systemd's WorkingDirectory=
	}
	if !strings.HasPrefix(e.Cwd, "/") || strings.IndexByte(e.Cwd, 0) >= 0 {
		c.fail("[exec] cwd", "%q: want an absolute path", e.Cwd)
	}
	s.Cwd = e.Cwd
	s.User = c.user(e)
}

// env accepts a table (sorted by key) or an array of KEY=value strings.
func (c *checker) env(v any) []string {
	var env []string
	switch v := v.(type) {
	case nil:
		return nil
	case map[string]any:
		for k, val := range v {
			str, ok := val.(string)
			if !ok {
				c.fail("[exec] env", "%s: want a string, not %s", k, tomlKind(val))
				continue
			}
			env = append(env, k+"="+str)
		}
		sort.Strings(env)
	case []any:
		for _, e := range v {
			str, ok := e.(string)
			if !ok {
				c.fail("[exec] env", "%v: want a KEY=value string, not %s", e, tomlKind(e))
				continue
			}
			env = append(env, str)
		}
	default:
		c.fail("[exec] env", "want a table or an array of KEY=value strings, not %s", tomlKind(v))
		return nil
	}
	c.checkEnv(env)
	return env
}

func (c *checker) checkEnv(env []string) {
	seen := map[string]bool{}
	for _, kv := range env {
		k, _, ok := strings.Cut(kv, "=")
		switch {
		case !ok || k == "":
			c.fail("[exec] env", "%q: want KEY=value", kv)
		case strings.ContainsAny(kv, "\x00") || strings.ContainsAny(k, "= "):
			c.fail("[exec] env", "%q: a NUL byte, or a space in the key", kv)
		case seen[k]:
			c.fail("[exec] env", "%s set twice", k)
		}
		seen[k] = true
	}
}

func (c *checker) restart(s *Service, r *restartSection) {
	p := RestartPolicy{Policy: RestartNo, Burst: DefaultStartBurst}
	if r.Policy != nil {
		p.Policy = *r.Policy
		if !slices.Contains([]string{RestartNo, RestartOnFailure, RestartAlways}, p.Policy) {
			c.fail("[restart] policy", "%q: want no, on-failure or always", p.Policy)
		}
	}
	p.Delay = c.duration("[restart] delay", r.Delay, DefaultRestartDelay, true)
	p.MaxDelay = c.duration("[restart] max_delay", r.MaxDelay, max(DefaultRestartMaxDelay, p.Delay), false)
	if p.MaxDelay < p.Delay {
		c.fail("[restart] max_delay", "%v is below delay %v", p.MaxDelay, p.Delay)
	}
	if r.Burst != nil {
		if *r.Burst < 1 || *r.Burst > 1<<20 {
			c.fail("[restart] burst", "%d: want 1 to %d", *r.Burst, 1<<20)
		}
		p.Burst = int(*r.Burst)
	}
	p.Interval = c.duration("[restart] interval", r.Interval, DefaultStartInterval, true)
	s.Restart = p
}

func (c *checker) stop(s *Service, st *stopSection) {
	if st.Signal != nil {
		sig, err := parseSignal(st.Signal)
		if err != nil {
			c.fail("[stop] signal", "%v", err)
		}
		s.StopSignal = sig
	}
	s.StopTimeout = c.duration("[stop] timeout", st.Timeout, 0, false)
}

// duration parses a Go duration string; nil gives def. Zero is refused
// unless zeroOK.
func (c *checker) duration(key string, v *string, def time.Duration, zeroOK bool) time.Duration {
	if v == nil {
		return def
	}
	d, err := time.ParseDuration(*v)
	switch {
	case err != nil:
		c.fail(key, "%q: want a duration like 5s or 1m30s", *v)
	case d < 0 || (d == 0 && !zeroOK):
		c.fail(key, "%q: want a duration above zero", *v)
	}
	return d
}

// after returns the names sorted and unique.
func (c *checker) after(self string, names []string) []string {
	if len(names) == 0 {
		return nil
	}
	out := slices.Clone(names)
	sort.Strings(out)
	out = slices.Compact(out)
	for _, n := range out {
		if n == self {
			c.fail("after", "names the service itself")
		} else if checkAppName(n) != nil {
			c.fail("after", "%q: not a service name", n)
		}
	}
	return out
}
