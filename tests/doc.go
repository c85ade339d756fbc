// Package tests holds migrate's end-to-end tests and the benchmarks of the
// machine's floor.
//
// # Basics
//
// End-to-end tests build the real binaries (migrated, migrate-run,
// migratectl, the examples and the test apps of tests/internal) into a
// temporary directory once per run, and drive them as a user would: a
// migrated per test with its socket and store in the test's temporary
// directory, apps started with migrate-run, control through migratectl
// --json (or supervisor.Dial where a loop of thousands of requests would
// only time process starts), and real TCP clients on loopback ports the
// kernel picks. As root each migrated puts its apps' cgroups under a parent
// of its own, and a test checks at the end that the parent is gone; as
// another user migrated runs without cgroups (peers told apart by process
// ancestry) and the same tests run.
//
// The binaries are built without -race: the tests time thousands of process
// starts, and every package's own tests run under -race. MIGRATE_E2E_BIN=DIR
// tests the binaries in DIR instead of building them, which lets a test
// binary built with go test -c run as another user (all the end-to-end tests
// pass as nobody, where migrated tells apps apart by process ancestry).
//
// BenchmarkSuspendResumeLatency times suspend+resume of counter-server from
// outside: go test -run '^$' -bench SuspendResumeLatency -benchtime 200x.
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
//
// The end-to-end tests take about a minute on two cores, most of it the
// 1,000 suspend/resume cycles of TestDescriptorsStableOverCycles (-short runs
// 100). Polling with a deadline stands in for events only where the kernel
// gives none: a log file growing, a process that is not our child exiting, a
// descriptor count settling.
package tests
