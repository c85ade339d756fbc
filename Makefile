# migrate — build, test and run the session-continuation supervisor.
#
#   make demo         run the main job end to end
#   make test         every check CI runs: gofmt, go vet, staticcheck, go test -race,
#                     then make bench-quick (so the benchmark harness cannot rot)
#   make bench        the report benchmarks (BenchmarkReport*, about 10 minutes on
#                     2 cores), then docs/bench.md and the plots in docs/bench/
#   make bench-quick  the same, short (MIGRATE_BENCH_QUICK=1, under 2 minutes), the
#                     report into a temporary directory (BENCH_QUICK_OUT=DIR keeps
#                     it); fails if a benchmark fails or a section is missing
#   make bench-micro  the packages' own micro-benchmarks (go test -bench)

GO          ?= go
STATICCHECK_VERSION ?= v0.8.2
GOBIN       ?= $(shell $(GO) env GOPATH)/bin
STATICCHECK := $(GOBIN)/staticcheck
PREFIX      ?= /usr/local
BINDIR      := bin
CMDS        := $(notdir $(wildcard cmd/*))
# The binaries are static (pure Go: no libc, no dynamic loader). A Go binary
# that imports net is otherwise linked against libc, and the loader costs
# every start ≈0.75 ms — every resumed process pays it (docs/bench.md).
# Only the binaries: go test -race needs cgo.
STATIC      := CGO_ENABLED=0

.PHONY: all build test lint fmt-check vet staticcheck unit bench bench-quick bench-micro demo install clean tools

all: build

build:
	@mkdir -p $(BINDIR)
	@if [ -n "$(CMDS)" ]; then $(STATIC) $(GO) build -o $(BINDIR)/ $(addprefix ./cmd/,$(CMDS)); fi
	$(GO) build ./...

test: lint unit bench-quick

lint: fmt-check vet staticcheck

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	@echo "gofmt: ok"

vet:
	$(GO) vet ./...

$(STATICCHECK):
	$(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

staticcheck: $(STATICCHECK)
	$(STATICCHECK) ./...

unit:
	$(GO) test -race -count=1 -timeout 20m ./...

# The report benchmarks write their sections (internal/benchout) into a
# fresh directory named by MIGRATE_BENCH_OUT; internal/benchreport turns them
# into the report. The report is written even when a benchmark failed (from
# the sections that exist), and then make fails. go test's -timeout does not
# cover benchmarks, so `timeout` bounds the run (SIGQUIT: the test binary
# prints its goroutines); the test binaries are compiled first (-exec true)
# so that the bound is on the benchmarks, not the compiler. -p 1 for the full run: one package's benchmarks at
# a time, so that they do not measure each other.
# The latency benchmarks (the floor and the Table IV stages) run first, on a
# machine not yet stirred by the others (19,000 TCP connections torn down
# after capacity, 1,024 processes exiting after scale, CRIU's images).
BENCH_FIRST         := ^BenchmarkReport(Floor|Stages)
BENCH_RUN           := -run '^$$' -benchtime 1x
BENCH_PHASES        := -bench '$(BENCH_FIRST)' ./... && \
                       MIGRATE_BENCH_OUT=$$res $(GO) test $(BENCH_RUN) -bench '^BenchmarkReport' -skip '$(BENCH_FIRST)'
BENCH_TIMEOUT       ?= 900
BENCH_QUICK_TIMEOUT ?= 120
BENCH_QUICK_OUT     ?=
BENCH_COMPILE       := $(GO) test -count=1 -run '^$$' -exec true ./... >/dev/null
BENCH_TMP           := res=$$(mktemp -d) && trap 'rm -rf "$$res"' EXIT && trap 'exit 1' INT TERM && \
                       load=$$(cut -d' ' -f1-3 /proc/loadavg)

bench: build
	@$(BENCH_COMPILE)
	@$(BENCH_TMP) && \
	MIGRATE_BENCH_OUT=$$res timeout -s QUIT -k 30 $(BENCH_TIMEOUT) sh -c "$(GO) test -p 1 $(BENCH_RUN) $(BENCH_PHASES) -p 1 ./..."; rc=$$?; \
	$(GO) run ./internal/benchreport -load-before "$$load" -in "$$res" -out docs || rc=1; \
	exit $$rc

bench-quick: build
	@$(BENCH_COMPILE)
	@$(BENCH_TMP) && out="$(BENCH_QUICK_OUT)" && out="$${out:-$$res/report}" && \
	MIGRATE_BENCH_QUICK=1 MIGRATE_BENCH_OUT=$$res timeout -s QUIT -k 30 $(BENCH_QUICK_TIMEOUT) sh -c "$(GO) test $(BENCH_RUN) $(BENCH_PHASES) ./..."; rc=$$?; \
	MIGRATE_BENCH_QUICK=1 $(GO) run ./internal/benchreport -strict -load-before "$$load" -in "$$res" -out "$$out" || rc=1; \
	exit $$rc

bench-micro:
	$(GO) test -run '^$$' -bench . -skip '^BenchmarkReport' -benchmem -count=1 -timeout 30m ./...

# demo: counter-server under migrate-run; a client's session is suspended,
# held, resumed in a fresh process, and the client sees no gap (scripts/demo.sh).
demo:
	@mkdir -p $(BINDIR)
	$(STATIC) $(GO) build -o $(BINDIR)/ ./cmd/... ./examples/...
	bash scripts/demo.sh $(BINDIR)

install: build
	install -d $(DESTDIR)$(PREFIX)/bin
	@for c in $(CMDS); do install -m 0755 $(BINDIR)/$$c $(DESTDIR)$(PREFIX)/bin/$$c; done

clean:
	rm -rf $(BINDIR)
