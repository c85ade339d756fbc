package supervisor

import "sort"

// ServiceDiff is what a reload from one service set to another does; each
// list is sorted by name.
type ServiceDiff struct {
	Added     []string // to start
	Removed   []string // to stop
	Changed   []string // to restart with the new definition
	Unchanged []string // to leave running
}

// DiffServices compares two service sets by name and definition
// (Service.Equal): a file whose comments, layout or key order changed is
// Unchanged, one renamed but equal too if its name key kept the name.
func DiffServices(old, new []*Service) ServiceDiff {
	var d ServiceDiff
	before := make(map[string]*Service, len(old))
	for _, s := range old {
		before[s.Name] = s
	}
	after := make(map[string]bool, len(new))
	for _, s := range new {
		after[s.Name] = true
		o := before[s.Name]
		switch {
		case o == nil:
			d.Added = append(d.Added, s.Name)
		case o.Equal(s):
			d.Unchanged = append(d.Unchanged, s.Name)
		default:
			d.Changed = append(d.Changed, s.Name)
		}
	}
	for _, s := range old {
		if !after[s.Name] {
			d.Removed = append(d.Removed, s.Name)
		}
	}
	for _, l := range [][]string{d.Added, d.Removed, d.Changed, d.Unchanged} {
		sort.Strings(l)
	}
	return d
}
