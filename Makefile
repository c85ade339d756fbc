# migrate — build, test and run the session-continuation supervisor.
#
#   make demo    run the main job end to end
#   make test    every check CI runs: gofmt, go vet, staticcheck, go test -race
#   make bench   benchmarks (numbers go to docs/bench.md)

GO          ?= go
STATICCHECK_VERSION ?= v0.8.2
GOBIN       ?= $(shell $(GO) env GOPATH)/bin
STATICCHECK := $(GOBIN)/staticcheck
PREFIX      ?= /usr/local
BINDIR      := bin
CMDS        := $(notdir $(wildcard cmd/*))

.PHONY: all build test lint fmt-check vet staticcheck unit bench demo install clean tools

all: build

build:
	@mkdir -p $(BINDIR)
	@if [ -n "$(CMDS)" ]; then $(GO) build -o $(BINDIR)/ $(addprefix ./cmd/,$(CMDS)); fi
	$(GO) build ./...

test: lint unit

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

bench:
	$(GO) test -run '^$$' -bench . -benchmem -count=1 -timeout 30m ./...

# demo: counter-server under migrate-run; a client's session is suspended,
# held, resumed in a fresh process, and the client sees no gap (scripts/demo.sh).
demo:
	@mkdir -p $(BINDIR)
	$(GO) build -o $(BINDIR)/ ./cmd/... ./examples/...
	bash scripts/demo.sh $(BINDIR)

install: build
	install -d $(DESTDIR)$(PREFIX)/bin
	@for c in $(CMDS); do install -m 0755 $(BINDIR)/$$c $(DESTDIR)$(PREFIX)/bin/$$c; done

clean:
	rm -rf $(BINDIR)
