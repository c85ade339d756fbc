// Command benchreport turns the results of the report benchmarks (the
// BenchmarkReport* functions, which write internal/benchout sections into
// MIGRATE_BENCH_OUT) into docs/bench.md and the PNG plots under
// docs/bench/:
//
//	go run ./internal/benchreport -in DIR -out docs
//
// A section that was not written is reported as "not measured"; with
// -strict the command still writes the report and then exits 1 naming the
// missing sections (make bench-quick uses it so that CI notices a
// benchmark that stopped writing its section). A section that cannot be
// read is an error. Every number in the report comes from the sections;
// the machine description, date and commit are read when the command runs,
// which `make bench` does right after the benchmarks.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

func main() {
	in := flag.String("in", "", "directory the benchmarks wrote their sections to (MIGRATE_BENCH_OUT)")
	out := flag.String("out", "docs", "directory to write bench.md into; plots and profiles go to its bench/ subdirectory")
	strict := flag.Bool("strict", false, "exit 1 when a section is missing (the report is written first)")
	loadBefore := flag.String("load-before", "", "the load average when the benchmarks started, for the report (make bench passes it)")
	flag.Parse()
	if *in == "" || flag.NArg() != 0 {
		fmt.Fprintln(os.Stderr, "usage: benchreport -in DIR [-out DIR] [-strict]")
		os.Exit(2)
	}
	info := collectRunInfo()
	info.Machine.LoadBefore = *loadBefore
	missing, err := generate(*in, *out, info)
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchreport:", err)
		os.Exit(1)
	}
	fmt.Printf("benchreport: wrote %s\n", filepath.Join(*out, reportName))
	if len(missing) > 0 {
		fmt.Fprintf(os.Stderr, "benchreport: not measured: %s\n", strings.Join(missing, ", "))
		if *strict {
			os.Exit(1)
		}
	}
}

// reportName and plotDir are where the report and its figures go inside
// the output directory; bench.md links the figures as plotDir/NAME.
const (
	reportName = "bench.md"
	plotDir    = "bench"
)

// generate reads the sections in in, writes the report, its plots and the
// profiles it links into out, and returns the sections that were missing.
func generate(in, out string, info runInfo) (missing []string, err error) {
	r, err := load(in)
	if err != nil {
		return nil, err
	}
	figDir := filepath.Join(out, plotDir)
	if err := os.MkdirAll(figDir, 0o755); err != nil {
		return nil, fmt.Errorf("make plot directory: %w", err)
	}
	if err := removeStale(figDir); err != nil {
		return nil, err
	}
	profiles, err := copyProfiles(r, in, figDir)
	if err != nil {
		return nil, err
	}
	figs, err := drawPlots(r, figDir)
	if err != nil {
		return nil, err
	}
	text := render(r, info, figs, profiles)
	if err := writeFile(filepath.Join(out, reportName), []byte(text)); err != nil {
		return nil, err
	}
	return r.missing(), nil
}

// writeFile writes data through a temporary file and a rename, so a failed
// run leaves the previous report in place.
func writeFile(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return errors.Join(fmt.Errorf("write report: %w", err), os.Remove(tmp))
	}
	return nil
}

// removeStale removes the plots and profiles of an earlier report, so that
// the directory holds only what this report links.
func removeStale(figDir string) error {
	for _, pattern := range []string{"*.png", "*.pprof"} {
		old, err := filepath.Glob(filepath.Join(figDir, pattern))
		if err != nil {
			return err
		}
		for _, f := range old {
			if err := os.Remove(f); err != nil {
				return fmt.Errorf("remove an earlier plot: %w", err)
			}
		}
	}
	return nil
}
