package supervisor

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// LoadServices reads every *.toml file in dir (not its subdirectories; a
// name starting with '.' is skipped, as editors' temporary files are) and
// returns the services sorted by name. It checks them all and joins every
// problem of every file, rejecting duplicate names, after naming an
// unknown service and ordering cycles; on any error it returns no service
// at all, so a reload with a broken file changes nothing.
func LoadServices(dir string) ([]*Service, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("load services: %w", err)
	}
	var svcs []*Service
	var errs []error
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ServiceFileExt) || strings.HasPrefix(name, ".") || e.IsDir() {
			continue
		}
		s, err := loadServiceFile(filepath.Join(dir, name))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		svcs = append(svcs, s)
	}
	sort.Slice(svcs, func(i, j int) bool { return svcs[i].Name < svcs[j].Name })
	errs = append(errs, checkSet(svcs)...)
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return svcs, nil
}

func loadServiceFile(path string) (*Service, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &ServiceError{File: path, Msg: err.Error()}
	}
	return ParseService(path, data)
}

// checkSet checks what no single file shows: duplicate names, unknown
// after targets and cycles. svcs is sorted by name.
func checkSet(svcs []*Service) []error {
	var errs []error
	byName := map[string]*Service{}
	for _, s := range svcs {
		if o := byName[s.Name]; o != nil {
			errs = append(errs, &ServiceError{File: s.File, Key: "name",
				Msg: fmt.Sprintf("%q already defined by %s", s.Name, o.File)})
			continue
		}
		byName[s.Name] = s
	}
	for _, s := range svcs {
		for _, a := range s.After {
			if byName[a] == nil {
				errs = append(errs, &ServiceError{File: s.File, Key: "after", Msg: fmt.Sprintf("%q: no such service", a)})
			}
		}
	}
	if len(errs) > 0 {
		return errs // a cycle check needs a consistent set
	}
	if _, err := StartOrder(svcs); err != nil {
		errs = append(errs, err)
	}
	return errs
}
