package launcher

import "strings"

// mergeEnv returns base followed by extra, one entry per variable: a later
// entry replaces an earlier one with the same name, in the earlier one's
// place. Entries without '=' are kept as they are (validation rejects them).
func mergeEnv(base, extra []string) []string {
	out := make([]string, 0, len(base)+len(extra))
	index := make(map[string]int, len(base)+len(extra))
	for _, list := range [][]string{base, extra} {
		for _, kv := range list {
			name, _, _ := strings.Cut(kv, "=")
			if i, ok := index[name]; ok {
				out[i] = kv
				continue
			}
			index[name] = len(out)
			out = append(out, kv)
		}
	}
	return out
}

// setEnv returns env with name set to value, replacing any entry of that name.
func setEnv(env []string, name, value string) []string {
	return mergeEnv(env, []string{name + "=" + value})
}

// lookupEnv returns the value of name in env.
func lookupEnv(env []string, name string) (string, bool) {
	for i := len(env) - 1; i >= 0; i-- {
		if k, v, ok := strings.Cut(env[i], "="); ok && k == name {
			return v, true
		}
	}
	return "", false
}
