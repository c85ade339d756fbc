package supervisor

import (
	"fmt"
	"sort"
	"strings"
)

// StartOrder sorts services into stages: every service of a stage comes
// after all the services its After names, which lie in earlier stages;
// services of one stage may start together. Within a stage services are
// sorted by name. An After naming no service of svcs is ignored (its
// ordering has nothing to wait for); a cycle is an error naming it
// ("a → b → a").
func StartOrder(svcs []*Service) ([][]*Service, error) {
	byName := make(map[string]*Service, len(svcs))
	for _, s := range svcs {
		byName[s.Name] = s
	}
	if cyc := findCycle(svcs, byName); cyc != nil {
		return nil, fmt.Errorf("order services: cycle %s: %w", strings.Join(cyc, " → "), ErrBadConfig)
	}
	stage := map[string]int{}
	var depth func(s *Service) int
	depth = func(s *Service) int {
		if d, ok := stage[s.Name]; ok {
			return d
		}
		d := 0
		for _, a := range s.After {
			if t := byName[a]; t != nil {
				d = max(d, depth(t)+1)
			}
		}
		stage[s.Name] = d
		return d
	}
	var out [][]*Service
	for _, s := range sortedByName(svcs) {
		d := depth(s)
		for len(out) <= d {
			out = append(out, nil)
		}
		out[d] = append(out[d], s)
	}
	return out, nil
}

// findCycle returns the first cycle a depth-first walk in name order
// meets, from its smallest name and back to it; nil without one.
func findCycle(svcs []*Service, byName map[string]*Service) []string {
	const (
		unseen = iota
		onPath
		done
	)
	mark := map[string]int{}
	var path []string
	var visit func(s *Service) []string
	visit = func(s *Service) []string {
		mark[s.Name] = onPath
		path = append(path, s.Name)
		for _, a := range s.After {
			t := byName[a]
			switch {
			case t == nil || mark[a] == done:
			case mark[a] == onPath:
				return rotateCycle(path[indexOf(path, a):])
			default:
				if c := visit(t); c != nil {
					return c
				}
			}
		}
		path = path[:len(path)-1]
		mark[s.Name] = done
		return nil
	}
	for _, s := range sortedByName(svcs) {
		if mark[s.Name] == unseen {
			if c := visit(s); c != nil {
				return c
			}
		}
	}
	return nil
}

// rotateCycle returns the cycle through names from its smallest name,
// that name repeated at the end.
func rotateCycle(names []string) []string {
	m := 0
	for i, n := range names {
		if n < names[m] {
			m = i
		}
	}
	out := append(append([]string(nil), names[m:]...), names[:m]...)
	return append(out, out[0])
}

func indexOf(list []string, v string) int {
	for i, x := range list {
		if x == v {
			return i
		}
	}
	return -1
}

func sortedByName(svcs []*Service) []*Service {
	out := append([]*Service(nil), svcs...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
