// Package tests holds migrate's end-to-end tests and the benchmarks of the
// machine's floor.
//
// # Basics
//
// End-to-end tests build the real binaries (migrated, migrate-run,
// migratectl and the examples) into a temporary directory and drive them as a
// user would: through the command line, the control socket and real TCP
// connections on loopback. They need root for cgroups and skip with a message
// otherwise.
//
// The floor benchmarks (floor_test.go) measure what no implementation of
// migrate can beat on this machine: fork+exec of a static binary, one fsync'd
// 4 KiB write. docs/bench.md sets every measured stage next to its floor.
//
// # Caveats
//
// The floor numbers depend on the machine and the file system under the
// test's temporary directory; compare them only with numbers taken on the same
// machine in the same run.
package tests
