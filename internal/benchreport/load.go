package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/migrate-run/migrate/internal/benchout"
)

// results holds every section of one run; a nil field was not measured.
type results struct {
	StagesCounter *benchout.Stages
	StagesRshell  *benchout.Stages
	Scale         *benchout.Scale
	Capacity      *benchout.Capacity
	Descriptors   *benchout.Descriptors
	CRIU          *benchout.CRIU
	PlainRestart  *benchout.PlainRestart
	RestartLoad   *benchout.RestartLoad
	Floor         *benchout.Floor
}

// sectionSlot pairs a section name with the field it is loaded into.
type sectionSlot struct {
	name string
	load func(r *results, dir string) error // benchout.Read into the field
	has  func(r *results) bool
}

// sections lists every section in the order the report presents them.
var sections = []sectionSlot{
	slot(benchout.SectionStagesCounter, func(r *results) **benchout.Stages { return &r.StagesCounter }),
	slot(benchout.SectionStagesRshell, func(r *results) **benchout.Stages { return &r.StagesRshell }),
	slot(benchout.SectionScale, func(r *results) **benchout.Scale { return &r.Scale }),
	slot(benchout.SectionCapacity, func(r *results) **benchout.Capacity { return &r.Capacity }),
	slot(benchout.SectionDescriptors, func(r *results) **benchout.Descriptors { return &r.Descriptors }),
	slot(benchout.SectionPeerCRIU, func(r *results) **benchout.CRIU { return &r.CRIU }),
	slot(benchout.SectionPeerRestart, func(r *results) **benchout.PlainRestart { return &r.PlainRestart }),
	slot(benchout.SectionPeerLoad, func(r *results) **benchout.RestartLoad { return &r.RestartLoad }),
	slot(benchout.SectionFloor, func(r *results) **benchout.Floor { return &r.Floor }),
}

// slot makes the sectionSlot of a section whose field field returns; the
// field is set only when the section was read.
func slot[T any](name string, field func(*results) **T) sectionSlot {
	return sectionSlot{
		name: name,
		load: func(r *results, dir string) error {
			v := new(T)
			if err := benchout.Read(dir, name, v); err != nil {
				return err
			}
			*field(r) = v
			return nil
		},
		has: func(r *results) bool { return *field(r) != nil },
	}
}

// load reads every section in dir. A section that is missing stays nil; one
// that exists but cannot be read is an error.
func load(dir string) (*results, error) {
	if fi, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("read results: %w", err)
	} else if !fi.IsDir() {
		return nil, fmt.Errorf("read results: %s is not a directory", dir)
	}
	r := &results{}
	for _, s := range sections {
		err := s.load(r, dir)
		if err != nil && !errors.Is(err, benchout.ErrMissing) {
			return nil, fmt.Errorf("read results: %w", err)
		}
	}
	return r, nil
}

// missing names the sections that were not measured, in report order.
func (r *results) missing() []string {
	var m []string
	for _, s := range sections {
		if !s.has(r) {
			m = append(m, s.name)
		}
	}
	return m
}

// profileRef is a profile copied next to the plots: File is its name inside
// the plot directory, Top the head of `go tool pprof -top`.
type profileRef struct {
	Section string
	File    string
	Top     string
	Err     string // why the file could not be copied, if it could not
}

// profileSource is a section's profile as the benchmark recorded it.
type profileSource struct {
	section, path, top string
}

func (r *results) profileSources() []profileSource {
	var ps []profileSource
	add := func(section, path, top string) {
		if path != "" || top != "" {
			ps = append(ps, profileSource{section, path, top})
		}
	}
	if r.StagesCounter != nil {
		add(benchout.SectionStagesCounter, r.StagesCounter.Profile, r.StagesCounter.ProfileTop)
	}
	if r.StagesRshell != nil {
		add(benchout.SectionStagesRshell, r.StagesRshell.Profile, r.StagesRshell.ProfileTop)
	}
	if r.Scale != nil {
		add(benchout.SectionScale, r.Scale.Profile, r.Scale.ProfileTop)
	}
	if r.Capacity != nil {
		add(benchout.SectionCapacity, r.Capacity.Profile, r.Capacity.ProfileTop)
	}
	return ps
}

// copyProfiles copies every section's profile from in (its path is
// relative to in) into figDir as <section>.pprof. A profile file that is
// missing is noted in the report rather than failing it.
func copyProfiles(r *results, in, figDir string) (map[string]profileRef, error) {
	refs := map[string]profileRef{}
	for _, p := range r.profileSources() {
		ref := profileRef{Section: p.section, Top: p.top}
		if p.path != "" {
			name := p.section + ".pprof"
			src := p.path
			if !filepath.IsAbs(src) {
				src = filepath.Join(in, src)
			}
			switch err := copyFile(src, filepath.Join(figDir, name)); {
			case errors.Is(err, os.ErrNotExist):
				ref.Err = fmt.Sprintf("the profile %s was not found", p.path)
			case err != nil:
				return nil, err
			default:
				ref.File = name
			}
		}
		refs[p.section] = ref
	}
	return refs, nil
}

func copyFile(src, dst string) (err error) {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return fmt.Errorf("copy profile: %w", err)
	}
	defer func() {
		if cerr := out.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("copy profile: %w", cerr)
		}
	}()
	if _, err := io.Copy(out, in); err != nil {
		return fmt.Errorf("copy profile: %w", err)
	}
	return nil
}
